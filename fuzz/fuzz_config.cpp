// libFuzzer target: the launcher config parser (comments, both vocabularies,
// every validation path).
#include "core/config.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string text(reinterpret_cast<const char *>(data), size);
    pvl::LauncherConfig cfg;
    std::string error;
    if (!pvl::parse_launcher_config(text, "fuzz.json", &cfg, &error) && error.empty())
        __builtin_trap(); // a rejection always says why
    return 0;
}
