#include "site.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>

#include "site_assets.h"
#include "site_data.h"
#include "site_pages.h"
#include "error.h"

namespace keval {
namespace {

namespace fs = std::filesystem;

// Samples per data file: a page of the browser shows 25, so one or two files serve it.
constexpr size_t k_samples_per_chunk = 50;
// Temporary files end with this (and the writer's pid), so a later report can tell them apart.
constexpr std::string_view k_temporary_suffix = ".keval-tmp";

// Writes `content` to `path` by way of a temporary file renamed over it: a reader (or a report
// killed halfway) sees the old file or the new one, never a part of one.
uintmax_t write_atomically(const fs::path& path, std::string_view content) {
  const fs::path temporary = path.string() + fmt::format("{}{}", k_temporary_suffix, ::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
      throw InputError(fmt::format("{}: cannot write", path.string()));
    }
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw InputError(fmt::format("{}: cannot write: {}", path.string(), ec.message()));
  }
  return content.size();
}

void make_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir)) throw InputError(fmt::format("{}: cannot create the report directory", dir.string()));
}

// Temporary files that a killed report left behind: those whose writer's pid is no longer a
// running process (another report writing into the same directory keeps its own).
void remove_leftovers(const fs::path& root) {
  std::error_code ec;
  std::vector<fs::path> leftovers;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t at = name.rfind(k_temporary_suffix);
    if (at == std::string::npos || !it->is_regular_file()) continue;
    const std::string pid = name.substr(at + k_temporary_suffix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) leftovers.push_back(it->path());
  }
  for (const auto& path : leftovers) fs::remove(path, ec);
}

// Data files of a previous report that this one did not write (a task that has fewer samples now).
void remove_stale_chunks(const fs::path& dir, const std::set<std::string>& written) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->path().extension() == ".js" && !written.count(name)) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

} // namespace

SiteSummary write_site(Store& store, const std::string& out_dir) {
  const fs::path root(out_dir);
  for (const char* dir : {"", "tasks", "runs", "data", "assets"}) make_directory(root / dir);
  remove_leftovers(root);

  const site::Model model = site::build_model(store);
  SiteSummary summary;
  summary.runs = model.runs.size();
  std::atomic<uintmax_t> html_bytes{0}, data_bytes{0};

  // Assets first, then per task its data before its page, the index last: whatever moment a
  // report stops at, what a page refers to is there.
  const std::pair<const char*, std::string_view> assets[] = {{"site.css", site_assets::k_site_css},
                                                             {"table.js", site_assets::k_table_js},
                                                             {"selftest.js", site_assets::k_selftest_js},
                                                             {"samples.js", site_assets::k_samples_js}};
  for (const auto& [name, content] : assets) data_bytes += write_atomically(root / "assets" / name, content);

  // Task pages hold nearly all the work (every run's every answer), and each is independent:
  // one worker per core, each with its own read-only connection.
  std::vector<const site::Entry*> tasks;
  for (const auto& e : model.entries)
    if (!e.is_group) tasks.push_back(&e);
  std::atomic<size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto worker = [&]() {
    try {
      StoreReader reader(store.path());
      for (size_t i = next++; i < tasks.size(); i = next++) {
        const site::Entry& e = *tasks[i];
        const fs::path data_dir = root / site::task_data_dir(e.name);
        make_directory(data_dir);
        std::set<std::string> written;
        const std::string metric = e.metrics.empty() ? "acc" : e.metrics.front();
        const size_t samples = site::write_sample_files(reader, e.name, metric, site::runs_of(model, e.name), k_samples_per_chunk,
                                                        [&](const std::string& name, const std::string& content) {
                                                          data_bytes += write_atomically(data_dir / name, content);
                                                          written.insert(name);
                                                        });
        remove_stale_chunks(data_dir, written);
        html_bytes += write_atomically(root / site::task_page_path(e.name), site::task_page(model, e, samples));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = tasks.size();
    }
  };
  const size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers && w < tasks.size(); ++w) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
  summary.task_pages = tasks.size();
  for (const auto& v : model.runs) html_bytes += write_atomically(root / site::run_page_path(v.run), site::run_page(model, v));
  summary.index_bytes = write_atomically(root / "index.html", site::index_page(model));
  summary.html_bytes = html_bytes + summary.index_bytes;
  summary.data_bytes = data_bytes;
  summary.bytes = summary.html_bytes + summary.data_bytes;
  return summary;
}

} // namespace keval
