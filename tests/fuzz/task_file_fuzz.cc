// Task and group files (tasks/*.yaml): any bytes load or raise InputError.
#include "fuzz_support.h"
#include "task_loader.h"
#include "error.h"

namespace {

// A base beside the fuzzed file, so that `include: _base.yaml` reaches the merge of base and leaf.
const char* k_base = R"(suite: kmmlu
version: 1
licence: "CC BY-ND 4.0"
output_type: multiple_choice
prompt: "{{question}}\nA. {{A}}\nB. {{B}}\n정답："
choices: ["{{A}}", "{{B}}"]
continuations: labels
choice_labels: [A, B]
target: {field: answer, kind: index, base: 1}
scorer: multiple_choice
metrics: [acc]
)";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool base_written = [] {
    keval::fuzz::write_input(keval::fuzz::scratch_file("_base.yaml"), k_base);
    return true;
  }();
  (void)base_written;
  static const std::string path = keval::fuzz::scratch_file("task.yaml");
  keval::fuzz::write_input(path, keval::fuzz::as_text(data, size));
  try {
    keval::load_task_file(path, "tasks/fuzz.yaml");
  } catch (const keval::InputError&) {
  }
  return 0;
}
