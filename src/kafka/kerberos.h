// SASL GSSAPI (Kerberos) for the Kafka clients: librdkafka authenticates
// through Cyrus SASL's GSSAPI plugin with the tickets in the credential cache
// and renews them by running kinit with the keytab (sasl.kerberos.kinit.cmd).
// Before the first client of a principal connects, KerberosLogin runs that
// kinit itself, so a keytab the KDC refuses is a clear error naming the keytab
// and kinit's reason instead of a bare "GSSAPI: no credentials" from the broker.
//
// Unless KRB5CCNAME is set, the process keeps its tickets in a credential
// cache of its own (FILE:<tmp>/kafka-backup-krb5cc-<pid>, removed at exit),
// so a run never replaces the tickets of the user who started it.
#pragma once

#include <string>

#include "kafka_backup/config.h"
#include "kafka_backup/status.h"

namespace kafka_backup::kafka {

// kinit renewal command for librdkafka: quiet (its output would reach our
// stderr), renewing first, a new login when renewal fails.
inline constexpr const char* kKinitCommand =
    "kinit -R -t \"%{sasl.kerberos.keytab}\" -k %{sasl.kerberos.principal} >/dev/null 2>&1 || "
    "kinit -t \"%{sasl.kerberos.keytab}\" -k %{sasl.kerberos.principal} >/dev/null 2>&1";

// Logs `security.kerberos_principal` in with `security.kerberos_keytab`, once
// per process for each principal and keytab. InvalidArgument when the keytab
// cannot be read or kinit is not installed; Auth when the KDC refuses (a
// stale or foreign keytab, an unknown principal), with kinit's reason;
// Unavailable when no KDC answers.
Status KerberosLogin(const SecurityConfig& security);

}  // namespace kafka_backup::kafka
