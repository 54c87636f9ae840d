// Gate files (keval gate --config): any bytes load or raise InputError.
#include "fuzz_support.h"
#include "gate.h"
#include "error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = keval::fuzz::scratch_file("gate.yaml");
  keval::fuzz::write_input(path, keval::fuzz::as_text(data, size));
  try {
    keval::load_gate_config(path);
  } catch (const keval::InputError&) {
  }
  return 0;
}
