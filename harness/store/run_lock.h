#pragma once
// One writer per run: a run is written by one process at a time, so a second `--resume` of a
// running run cannot ask its requests again or count its samples twice.
//
// The lock is a POSIX record lock (fcntl F_SETLK) on one byte of "<database>-lock", the byte at
// the run's id read as a number. The kernel drops it when the process ends, however it ends
// (kill -9 included), so a lock is never stale and needs no liveness guess; F_GETLK names the
// process holding it. (A lock row in the database would need a pid check that pid reuse can
// fool.) SQLite's WAL already requires every writer to be on this host, and so does this lock.
// Record locks belong to the process: one process holds one RunLock per database at a time.
#include <string>

namespace keval {

class RunLock {
public:
  // Takes the lock, or throws InputError naming the process that holds it.
  RunLock(const std::string& db_path, const std::string& run_id);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // The lock file's path for a database.
  static std::string lock_path(const std::string& db_path) { return db_path + "-lock"; }

private:
  int m_fd = -1;
};

} // namespace keval
