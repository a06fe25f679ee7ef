#ifndef MIRROR_CARCHIVE_SHIM_H
#define MIRROR_CARCHIVE_SHIM_H

#include <archive.h>
#include <archive_entry.h>

#endif
