#include "run_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "error.h"

namespace keval {
namespace {

// The byte a run locks: its id (12 hex digits) as a number, so distinct runs never share one.
// Any other id is hashed (FNV-1a) into the same 48 bits.
off_t lock_offset(const std::string& run_id) {
  const bool hex = !run_id.empty() && run_id.size() <= 12 &&
                   run_id.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
  if (hex) return static_cast<off_t>(std::stoull(run_id, nullptr, 16));
  unsigned long long hash = 14695981039346656037ull;
  for (unsigned char c : run_id) hash = (hash ^ c) * 1099511628211ull;
  return static_cast<off_t>(hash & 0xFFFFFFFFFFFFull);
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "this host";
  return name;
}

// The holder's command line, for the message; empty when it cannot be read.
std::string command_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();
  for (char& c : raw)
    if (c == '\0') c = ' ';
  return raw.size() > 200 ? raw.substr(0, 200) + "…" : raw;
}

} // namespace

RunLock::RunLock(const std::string& db_path, const std::string& run_id) {
  const std::string path = lock_path(db_path);
  m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (m_fd < 0) throw InputError(fmt::format("cannot create the run lock file {}: {}", path, std::strerror(errno)));
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = lock_offset(run_id);
  lock.l_len = 1;
  if (::fcntl(m_fd, F_SETLK, &lock) == 0) return;
  const int error = errno;
  struct flock holder = lock;
  const bool known = ::fcntl(m_fd, F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK;
  ::close(m_fd);
  m_fd = -1;
  if (error != EACCES && error != EAGAIN) {
    throw InputError(fmt::format("cannot lock run {} in {}: {}", run_id, path, std::strerror(error)));
  }
  std::string who = "another process";
  if (known) {
    who = fmt::format("process {} on {}", holder.l_pid, host_name());
    const std::string command = command_of(holder.l_pid);
    if (!command.empty()) who += fmt::format(" ({})", command);
  }
  throw InputError(fmt::format("run {} in {} is being written by {}; wait for it to finish, or stop it and "
                               "resume again",
                               run_id, db_path, who));
}

RunLock::~RunLock() {
  if (m_fd >= 0) ::close(m_fd); // closing releases the lock
}

} // namespace keval
