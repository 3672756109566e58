#include "l3l2q.h"
#include <stdio.h>
int main(void) {
    l3l2q_version_info v;
    if (l3l2q_version(&v) != L3L2Q_STATUS_OK) return 1;
    printf("version %s\n", v.library);
    return 0;
}
