#ifndef NPM_MIRROR_CFILESYSTEM_H
#define NPM_MIRROR_CFILESYSTEM_H

/* File-system calls Swift's Glibc module does not expose (they need _GNU_SOURCE). */

/* syncfs(2): writes back everything dirty on the file system holding fd; 0, or -1 with errno. */
int npm_mirror_syncfs(int fd);

#endif
