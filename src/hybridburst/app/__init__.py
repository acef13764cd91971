"""The storefront: the application a burst deploys (source, release builder)."""
