#ifndef NPM_MIRROR_CRDKAFKA_SHIM_H
#define NPM_MIRROR_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
