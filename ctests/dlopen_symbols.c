/* dlopen_symbols.c: how a runtime that loads l3l2q at run time finds every
 * symbol and refuses a library whose version or wire ABI differs from the
 * header it was built against.
 *
 * Usage: dlopen_symbols <path-to-libl3l2q.so> <function> [<function>...]
 * Linked to nothing but libdl; exits non-zero on any missing symbol or
 * mismatch. */

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "l3l2q.h"

typedef enum l3l2q_status (*version_fn)(l3l2q_version_info *);
typedef const char *(*status_str_fn)(int32_t);
typedef enum l3l2q_status (*layout_compute_fn)(uint64_t, uint64_t, uint64_t, l3l2q_layout *, l3l2q_violation *);

/* dlsym returns an object pointer; copy it into a function pointer. */
#define LOAD(handle, name, fn_ptr)                                  \
    do {                                                            \
        void *sym_ = dlsym((handle), (name));                       \
        memcpy(&(fn_ptr), &sym_, sizeof(fn_ptr));                   \
    } while (0)

/* Returns NULL when the loaded library matches the header this program was
 * compiled with, else a reason. The library version must match in major
 * and minor (the patch may differ), and every wire ABI number exactly. */
static const char *mismatch(const l3l2q_version_info *v) {
    if (v->c_abi_major != L3L2Q_C_ABI_MAJOR) return "C ABI major";
    if (v->major != L3L2Q_VERSION_MAJOR) return "library major version";
    if (v->minor != L3L2Q_VERSION_MINOR) return "library minor version";
    if (v->region_abi_major != L3L2Q_REGION_ABI_MAJOR) return "region descriptor ABI major";
    if (v->region_abi_minor != L3L2Q_REGION_ABI_MINOR) return "region descriptor ABI minor";
    if (v->queue_abi_major != L3L2Q_QUEUE_ABI_MAJOR) return "queue ABI major";
    if (v->queue_abi_minor != L3L2Q_QUEUE_ABI_MINOR) return "queue ABI minor";
    return NULL;
}

/* The refusal logic itself must refuse each kind of mismatch. */
static int refusal_logic_works(const l3l2q_version_info *good) {
    int failures = 0;
    unsigned i;
    if (mismatch(good) != NULL) return 0;
    for (i = 0; i < 7; ++i) {
        l3l2q_version_info v = *good;
        uint32_t *fields[7];
        fields[0] = &v.c_abi_major;
        fields[1] = &v.major;
        fields[2] = &v.minor;
        fields[3] = &v.region_abi_major;
        fields[4] = &v.region_abi_minor;
        fields[5] = &v.queue_abi_major;
        fields[6] = &v.queue_abi_minor;
        *fields[i] += 1;
        if (mismatch(&v) == NULL) {
            printf("FAILED: a doctored version (field %u) was not refused\n", i);
            failures++;
        }
    }
    {
        l3l2q_version_info v = *good;
        v.patch += 1; /* a patch release is compatible */
        if (mismatch(&v) != NULL) {
            printf("FAILED: a patch-level difference was refused\n");
            failures++;
        }
    }
    return failures == 0;
}

int main(int argc, char **argv) {
    void *lib;
    int i, missing = 0;
    version_fn version = NULL;
    status_str_fn status_str = NULL;
    layout_compute_fn layout_compute = NULL;
    l3l2q_version_info info;
    l3l2q_layout layout;
    l3l2q_violation violation = L3L2Q_VIOLATION_REGION_TOO_SMALL;
    const char *why;
    char library[64];

    if (argc < 3) {
        fprintf(stderr, "usage: %s <libl3l2q.so> <function>...\n", argv[0]);
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        printf("FAILED: dlopen(%s): %s\n", argv[1], dlerror());
        return 1;
    }

    for (i = 2; i < argc; ++i) {
        dlerror();
        if (dlsym(lib, argv[i]) == NULL) {
            const char *err = dlerror();
            printf("FAILED: missing symbol %s (%s)\n", argv[i], err ? err : "NULL address");
            missing++;
        }
    }
    /* A name the header does not declare must not resolve (the check above
     * would otherwise prove nothing). */
    if (dlsym(lib, "l3l2q_no_such_function_for_dlopen_test") != NULL) {
        printf("FAILED: a nonexistent symbol resolved\n");
        missing++;
    }

    LOAD(lib, "l3l2q_version", version);
    LOAD(lib, "l3l2q_status_str", status_str);
    LOAD(lib, "l3l2q_layout_compute", layout_compute);
    if (version == NULL || status_str == NULL || layout_compute == NULL) {
        printf("FAILED: l3l2q_version/l3l2q_status_str/l3l2q_layout_compute not found\n");
        dlclose(lib);
        return 1;
    }

    memset(&info, 0, sizeof info);
    if (version(&info) != L3L2Q_STATUS_OK || info.library == NULL) {
        printf("FAILED: l3l2q_version through dlsym\n");
        dlclose(lib);
        return 1;
    }
    /* info.library lives in the library: copy it before dlclose. */
    snprintf(library, sizeof library, "%s", info.library);
    if (!refusal_logic_works(&info)) {
        dlclose(lib);
        return 1;
    }
    why = mismatch(&info);
    if (why != NULL) {
        printf("REFUSED: %s has a different %s (library %s, C ABI %u, region %u.%u, queue %u.%u; "
               "header %u.%u, C ABI %u, region %u.%u, queue %u.%u)\n",
               argv[1], why, library, info.c_abi_major, info.region_abi_major, info.region_abi_minor,
               info.queue_abi_major, info.queue_abi_minor, (unsigned)L3L2Q_VERSION_MAJOR,
               (unsigned)L3L2Q_VERSION_MINOR, (unsigned)L3L2Q_C_ABI_MAJOR, (unsigned)L3L2Q_REGION_ABI_MAJOR,
               (unsigned)L3L2Q_REGION_ABI_MINOR, (unsigned)L3L2Q_QUEUE_ABI_MAJOR, (unsigned)L3L2Q_QUEUE_ABI_MINOR);
        dlclose(lib);
        return 1;
    }

    /* Accepted: the loaded code works through the function pointers. */
    if (layout_compute(4, 128, 192, &layout, &violation) != L3L2Q_STATUS_OK || layout.payload_bytes != 576 ||
        violation != L3L2Q_VIOLATION_VALID || status_str(L3L2Q_STATUS_OK) == NULL) {
        printf("FAILED: calls through dlsym misbehave\n");
        missing++;
    }

    if (dlclose(lib) != 0) {
        printf("FAILED: dlclose: %s\n", dlerror());
        return 1;
    }
    if (missing != 0) {
        printf("dlopen_symbols: %d failures\n", missing);
        return 1;
    }
    printf("dlopen_symbols: %d symbols resolved; library %s accepted (C ABI %u, region ABI %u.%u, queue ABI %u.%u)\n",
           argc - 2, library, info.c_abi_major, info.region_abi_major, info.region_abi_minor,
           info.queue_abi_major, info.queue_abi_minor);
    return 0;
}
