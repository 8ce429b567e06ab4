// Prints the shared table's size in bytes for N ports, from the module's own
// formula, for the memory figure of the benchmarks.
#include "core/shared_table.h"

#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    std::printf("%zu\n", pvl::SharedTable::bytes_needed(static_cast<uint32_t>(std::atoi(argv[1])),
                                                        pvl::SharedTable::default_body_size));
    return 0;
}
