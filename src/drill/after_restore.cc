#include "drill/after_restore.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

extern char** environ;

namespace kafka_backup::drill {
namespace {

constexpr std::string_view kSigningKeyVar = "KAFKA_BACKUP_DRILL_SIGNING_KEY=";

std::vector<std::string> ChildEnvironment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string_view var(*e);
    if (var.starts_with(kSigningKeyVar)) continue;  // a secret the command has no use for
    bool replaced = false;
    for (const auto& [name, value] : extra) replaced = replaced || var.starts_with(name + "=");
    if (!replaced) out.emplace_back(var);
  }
  for (const auto& [name, value] : extra) out.push_back(fmt::format("{}={}", name, value));
  return out;
}

// Waits for `pid` until `deadline`; true when it ended (its status in *status).
bool WaitUntil(pid_t pid, std::chrono::steady_clock::time_point deadline, int* status) {
  while (true) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

DrillHook RunAfterRestore(const std::vector<std::string>& command,
                          const std::vector<std::pair<std::string, std::string>>& env, int64_t timeout_secs) {
  DrillHook hook;
  hook.command = command;
  auto started = std::chrono::steady_clock::now();
  std::vector<std::string> vars = ChildEnvironment(env);
  std::vector<char*> envp;
  envp.reserve(vars.size() + 1);
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = command;
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout stops what it started too
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    hook.exit_code = -1;
    hook.problem = fmt::format("drill.after_restore: cannot run {}: {}", command.front(), std::strerror(rc));
    return hook;
  }
  spdlog::info("drill: running after_restore ({}), pid {}", fmt::join(command, " "), pid);
  int status = 0;
  auto deadline = started + std::chrono::seconds(timeout_secs);
  if (!WaitUntil(pid, deadline, &status)) {
    ::kill(-pid, SIGTERM);
    if (!WaitUntil(pid, std::chrono::steady_clock::now() + std::chrono::seconds(5), &status)) {
      ::kill(-pid, SIGKILL);
      WaitUntil(pid, std::chrono::steady_clock::time_point::max(), &status);
    }
    hook.exit_code = -1;
    hook.problem = fmt::format("drill.after_restore did not finish within {} s (drill.after_restore_timeout); stopped",
                               timeout_secs);
  } else if (WIFEXITED(status)) {
    hook.exit_code = WEXITSTATUS(status);
    if (hook.exit_code != 0) hook.problem = fmt::format("drill.after_restore exited {}", hook.exit_code);
  } else {
    hook.exit_code = -1;
    hook.problem =
        fmt::format("drill.after_restore was killed by signal {}", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  hook.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return hook;
}

}  // namespace kafka_backup::drill
