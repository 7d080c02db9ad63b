// The metrics: and retention: sections: the Prometheus endpoint and
// Pushgateway, and which backups `prune` keeps.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "config/sections.h"

namespace kafka_backup::config {

void ReadMetrics(MapReader& r, MetricsConfig* m) {
  if (auto v = r.Int("port", 0, 65535)) m->port = static_cast<int>(*v);
  if (auto v = r.String("bind")) {
    if (v->empty()) r.FailKey(r.Get("bind"), "bind", "expected an address to listen on, e.g. 0.0.0.0 or 127.0.0.1");
    m->bind = *v;
  }
  if (auto v = r.String("pushgateway_url")) {
    bool http = v->rfind("http://", 0) == 0 || v->rfind("https://", 0) == 0;
    if (!http || v->find_first_of("?#") != std::string::npos) {
      r.FailKey(r.Get("pushgateway_url"), "pushgateway_url",
                fmt::format("expected http://host:port or https://host:port (a path prefix allowed), got '{}'", *v));
    }
    m->pushgateway_url = *v;
  }
  // Label names as Prometheus takes them; a value may hold anything but is
  // not empty (the Pushgateway refuses an empty grouping value).
  auto label_name = [](const std::string& n) {
    return !n.empty() && !std::isdigit(static_cast<unsigned char>(n[0])) &&
           std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
  };
  if (auto v = r.String("pushgateway_job")) {
    if (v->empty()) r.FailKey(r.Get("pushgateway_job"), "pushgateway_job", "expected a job name, got ''");
    m->pushgateway_job = *v;
  }
  if (auto v = r.StringMap("pushgateway_labels")) {
    for (const auto& [name, value] : *v) {
      if (!label_name(name) || name == "job" || name == "command" || value.empty()) {
        r.FailKey(r.Get("pushgateway_labels"), "pushgateway_labels." + name,
                  "expected a label name ([A-Za-z_][A-Za-z0-9_]*, not job or command) with a non-empty value");
      }
    }
    m->pushgateway_labels = *v;
  }
  r.CheckNoUnknownKeys();
}

void ReadRetention(MapReader& r, RetentionConfig* o) {
  auto count = [&r](const char* key, int* out) {
    if (auto v = r.Int(key, 0, 1000000)) *out = static_cast<int>(*v);
  };
  count("keep_last", &o->keep_last);
  count("keep_hourly", &o->keep_hourly);
  count("keep_daily", &o->keep_daily);
  count("keep_weekly", &o->keep_weekly);
  count("keep_monthly", &o->keep_monthly);
  count("min_keep", &o->min_keep);
  if (auto v = r.DurationSecs("max_age")) o->max_age_secs = *v;
  if (auto v = r.String("backup_prefix")) o->backup_prefix = *v;
  r.CheckNoUnknownKeys();
}

}  // namespace kafka_backup::config
