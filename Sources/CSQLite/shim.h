#ifndef NPM_MIRROR_CSQLITE_SHIM_H
#define NPM_MIRROR_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
