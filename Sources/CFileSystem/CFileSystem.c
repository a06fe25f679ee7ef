#define _GNU_SOURCE
#include <unistd.h>
#include "CFileSystem.h"

int npm_mirror_syncfs(int fd) {
#ifdef __linux__
    return syncfs(fd);
#else
    sync();
    return fsync(fd);
#endif
}
