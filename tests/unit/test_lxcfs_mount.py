"""lxcfs mount detection must see a dead FUSE mount, which `mountpoint` cannot stat."""

from pathlib import Path

from hybridburst.providers.local import lxcfs

DEAD = (
    "22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw\n"
    "43 27 0:41 / /var/lib/lxcfs rw,nosuid,nodev,relatime - fuse.lxcfs lxcfs rw,user_id=0\n"
)


def test_dead_fuse_mount_is_seen_as_mounted(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(DEAD)
    assert lxcfs._mounted(table) is True


def test_similar_paths_are_not_the_mount(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 0:21 / / rw - overlay overlay rw\n"
        "44 27 0:42 / /var/lib/lxcfs2 rw - fuse.lxcfs lxcfs rw\n"
        "45 27 0:43 / /var/lib/lxcfs/proc rw - tmpfs tmpfs rw\n"
    )
    assert lxcfs._mounted(table) is False
