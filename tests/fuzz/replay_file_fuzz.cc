// Replay files (--responses) and judge replay files (--judge-responses): any bytes load or raise
// InputError, in both roles.
#include "backend.h"
#include "fuzz_support.h"
#include "error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = keval::fuzz::scratch_file("replay.jsonl");
  keval::fuzz::write_input(path, keval::fuzz::as_text(data, size));
  for (bool judge : {false, true}) {
    keval::BackendOptions options;
    options.kind = "replay";
    options.responses_file = path;
    options.judge = judge;
    try {
      keval::make_backend(options);
    } catch (const keval::InputError&) {
    }
  }
  return 0;
}
