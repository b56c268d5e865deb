#!/usr/bin/python3
# A pass-through FUSE file system (Debian's python3-fuse) whose writes stall:
# while the file named by $STALL_CTL exists, every write and fsync of a file
# blocks (other operations go on: the folder can still be listed, created,
# renamed and removed). Used by tests/integration/test_checkpoint_timeout.sh
# for storage that cannot finish a checkpoint in time.
#
#   STALL_CTL=/path/to/flag stall_fs.py MOUNTPOINT -f -o root=BACKING
#
# Multithreaded, so a stalled write blocks only its own request.
import errno
import os
import sys
import time

import fuse
from fuse import Fuse

fuse.fuse_python_api = (0, 2)

CTL = os.environ.get("STALL_CTL", "")
POLL_SECONDS = 0.05


def stall():
    while CTL and os.path.exists(CTL):
        time.sleep(POLL_SECONDS)


class StallFS(Fuse):
    def __init__(self, *args, **kw):
        Fuse.__init__(self, *args, **kw)
        self.root = "/"

    def fsinit(self):
        os.chdir(self.root)

    def getattr(self, path):
        return os.lstat("." + path)

    def readdir(self, path, offset):
        for e in [".", ".."] + os.listdir("." + path):
            yield fuse.Direntry(e)

    def unlink(self, path):
        os.unlink("." + path)

    def rmdir(self, path):
        os.rmdir("." + path)

    def rename(self, path, path1):
        os.rename("." + path, "." + path1)

    def mkdir(self, path, mode):
        os.mkdir("." + path, mode)

    def chmod(self, path, mode):
        os.chmod("." + path, mode)

    def utimens(self, path, ts_acc, ts_mod):
        os.utime("." + path, ns=(ts_acc.tv_sec * 10**9 + ts_acc.tv_nsec,
                                 ts_mod.tv_sec * 10**9 + ts_mod.tv_nsec))

    def truncate(self, path, length):
        os.truncate("." + path, length)

    def statfs(self):
        return os.statvfs(".")

    def access(self, path, mode):
        if not os.access("." + path, mode):
            return -errno.EACCES
        return 0

    class File(object):
        def __init__(self, path, flags, *mode):
            self.fd = os.open("." + path, flags, *mode)

        def read(self, length, offset):
            return os.pread(self.fd, length, offset)

        def write(self, buf, offset):
            stall()
            return os.pwrite(self.fd, buf, offset)

        def fsync(self, isfsyncfile):
            stall()
            os.fsync(self.fd)

        def flush(self):
            return 0

        def release(self, flags):
            os.close(self.fd)

        def fgetattr(self):
            return os.fstat(self.fd)

        def ftruncate(self, length):
            os.ftruncate(self.fd, length)

    def main(self, *a, **kw):
        self.file_class = self.File
        return Fuse.main(self, *a, **kw)


def main():
    server = StallFS(version="%prog 1", usage=Fuse.fusage, dash_s_do="setsingle")
    server.multithreaded = True
    server.parser.add_option(mountopt="root", metavar="PATH", default="/",
                             help="the folder to mirror")
    server.parse(values=server, errex=1)
    server.root = os.path.abspath(server.root)
    if not os.path.isdir(server.root):
        print("stall_fs: no folder " + server.root, file=sys.stderr)
        sys.exit(1)
    server.main()


if __name__ == "__main__":
    main()
