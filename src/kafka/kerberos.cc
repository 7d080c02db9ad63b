#include "kafka/kerberos.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <utility>

namespace kafka_backup::kafka {
namespace {

// A shell word: single-quoted, inner quotes closed and escaped.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string PrivateCachePath() {
  const char* tmp = std::getenv("TMPDIR");
  return fmt::format("{}/kafka-backup-krb5cc-{}", tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", getpid());
}

void RemovePrivateCache() {
  std::error_code ignored;
  std::filesystem::remove(PrivateCachePath(), ignored);
}

// Points KRB5CCNAME at the process's own cache unless the user chose one.
// Runs before the first GSSAPI client exists, so no librdkafka thread reads
// the environment while it changes.
void UsePrivateCacheUnlessSet() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("KRB5CCNAME") != nullptr) return;
    setenv("KRB5CCNAME", ("FILE:" + PrivateCachePath()).c_str(), 1);
    std::atexit(RemovePrivateCache);
  });
}

// Runs `command` through the shell; its exit status and what it printed.
std::pair<int, std::string> Run(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "cannot run the shell"};
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  int status = pclose(pipe);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace

Status KerberosLogin(const SecurityConfig& s) {
  static std::mutex mu;
  static std::set<std::pair<std::string, std::string>> logged_in;
  std::lock_guard lock(mu);
  if (logged_in.count({s.kerberos_principal, s.kerberos_keytab}) != 0) return Status::Ok();
  if (std::ifstream keytab(s.kerberos_keytab, std::ios::binary); !keytab) {
    return Status::InvalidArgument(
        fmt::format("security.kerberos_keytab: cannot read {} (a keytab for {}, made with kadmin's ktadd or ktutil)",
                    s.kerberos_keytab, s.kerberos_principal));
  }
  UsePrivateCacheUnlessSet();
  auto [rc, output] =
      Run(fmt::format("kinit -t {} -k {}", ShellQuote(s.kerberos_keytab), ShellQuote(s.kerberos_principal)));
  if (rc == 127) {
    return Status::InvalidArgument(
        "sasl_mechanism GSSAPI needs the kinit command (Debian/Ubuntu: apt-get install krb5-user; "
        "RHEL: krb5-workstation) and Cyrus SASL's GSSAPI plugin (libsasl2-modules-gssapi-mit)");
  }
  if (rc != 0) {
    const std::string why = output.empty() ? fmt::format("exit {}", rc) : output;
    const bool unreachable =
        why.find("Cannot contact any KDC") != std::string::npos || why.find("Cannot find KDC") != std::string::npos;
    std::string msg =
        fmt::format("Kerberos login of {} with keytab {} failed: {}", s.kerberos_principal, s.kerberos_keytab, why);
    if (unreachable) {
      return Status::Unavailable(msg + "; check the realm's kdc in krb5.conf (KRB5_CONFIG, else /etc/krb5.conf)");
    }
    return Status::Auth(msg +
                        "; check that the keytab holds the principal's current keys (klist -kt) and that "
                        "kerberos_principal is spelled as in the KDC, realm included");
  }
  logged_in.insert({s.kerberos_principal, s.kerberos_keytab});
  return Status::Ok();
}

}  // namespace kafka_backup::kafka
