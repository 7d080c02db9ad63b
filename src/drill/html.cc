// The drill report as a page a person reads (docs/drills.md "The page"): one
// self-contained HTML file, no script, no network. A summary a manager takes
// in at a glance (passed or failed, RTO, RPO, data, date), what failed and
// what could not be checked, the restore's throughput over its duration as
// an inline SVG chart, and a table per topic and per partition.
#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "kafka_backup/drill.h"
#include "util/progress.h"
#include "util/time_point.h"

namespace kafka_backup {
namespace {

// The partition table lists the failed ones, then the others up to this many.
constexpr size_t kMaxPartitionRows = 500;

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Bytes(uint64_t b) {
  return Progress::HumanBytes(static_cast<double>(b));
}

std::string Duration(double secs) {
  if (secs >= 86400)
    return fmt::format("{}d {}h", static_cast<int64_t>(secs) / 86400, static_cast<int64_t>(secs) / 3600 % 24);
  if (secs >= 3600)
    return fmt::format("{}h {:02}m", static_cast<int64_t>(secs) / 3600, static_cast<int64_t>(secs) / 60 % 60);
  if (secs >= 60) return fmt::format("{}m {:02}s", static_cast<int64_t>(secs) / 60, static_cast<int64_t>(secs) % 60);
  return fmt::format("{:.1f} s", secs);
}

constexpr const char* kStyle = R"(
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
main{max-width:1040px;margin:0 auto;padding:24px}
header{padding:20px 24px;border-radius:10px;color:#fff}
header.pass{background:#1e7a46} header.fail{background:#b3261e}
header h1{margin:0;font-size:28px} header p{margin:4px 0 0;opacity:.9}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;margin:16px 0}
.card{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card .k{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#5b6475}
.card .v{font-size:24px;font-weight:600;margin-top:2px} .card .s{font-size:13px;color:#5b6475}
section{background:#fff;border-radius:10px;padding:16px 20px;margin:16px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:18px;margin:0 0 10px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e4e7ec} td.n,th.n{text-align:right}
.ok{color:#1e7a46;font-weight:600} .bad{color:#b3261e;font-weight:600}
ul{margin:0;padding-left:20px} footer{font-size:12px;color:#5b6475;margin:16px 4px}
code{font-size:13px}
)";

std::string Card(std::string_view key, std::string_view value, std::string_view sub) {
  return fmt::format(R"(<div class="card"><div class="k">{}</div><div class="v">{}</div><div class="s">{}</div></div>)",
                     Escape(key), Escape(value), Escape(sub));
}

std::string Summary(const DrillReport& r) {
  size_t matched = 0;
  for (const auto& p : r.partitions) matched += p.digest == "match" ? 1 : 0;
  double rate = r.restore_seconds > 0 ? static_cast<double>(r.bytes) / r.restore_seconds : 0;
  double rec_rate = r.restore_seconds > 0 ? static_cast<double>(r.records) / r.restore_seconds : 0;
  std::string rpo = r.rpo_seconds ? Duration(*r.rpo_seconds) : "-";
  std::string rpo_sub = r.newest_record_ms ? "newest record " + util::FormatRfc3339(*r.newest_record_ms) : "no records";
  if (r.checkpoint_age_seconds) rpo_sub += ", last checkpoint " + Duration(*r.checkpoint_age_seconds) + " old";
  std::string out = R"(<div class="cards">)";
  out += Card("Result", r.ok() ? "PASSED" : "FAILED",
              r.ok() ? "every check passed" : fmt::format("{} checks failed", r.Failures().size()));
  out += Card("RTO (restore time)", Duration(r.restore_seconds),
              fmt::format("{}/s, {:.0f} records/s", Bytes(static_cast<uint64_t>(rate)), rec_rate));
  out += Card("RPO (data age)", rpo, rpo_sub);
  out += Card("Data restored", Bytes(r.bytes), fmt::format("{} records in {} topics", r.records, r.topics.size()));
  out += Card("Checked", fmt::format("{} partitions", r.partitions.size()),
              fmt::format("{} digests match, {} group positions", matched, r.groups.size()));
  out += Card("Date", util::FormatRfc3339(r.started_at_ms).substr(0, 10), util::FormatRfc3339(r.started_at_ms));
  return out + "</div>";
}

std::string Lists(const DrillReport& r) {
  std::string out;
  auto list = [&out](std::string_view title, const std::vector<std::string>& items) {
    if (items.empty()) return;
    out += fmt::format("<section><h2>{}</h2><ul>", Escape(title));
    for (const auto& i : items) out += "<li>" + Escape(i) + "</li>";
    out += "</ul></section>";
  };
  list("Failed checks", r.Failures());
  list("Not checked", r.not_checked);
  list("Cleaned up first (left by an earlier drill)", r.cleaned_up);
  return out;
}

// Rate between consecutive points, bytes per second against seconds, as a
// filled line.
std::string Chart(const DrillReport& r) {
  std::string out = "<section><h2>Restore throughput</h2>";
  const auto& pts = r.throughput;
  if (pts.size() < 2 || pts.back().seconds <= 0) {
    return out + "<p>The restore was too short to chart (under 0.2 s between progress points).</p></section>";
  }
  constexpr double kW = 960, kH = 260, kLeft = 80, kBottom = 30, kTop = 12, kRight = 16;
  std::vector<std::pair<double, double>> rates;  // (seconds, bytes/s)
  for (size_t i = 1; i < pts.size(); ++i) {
    double dt = pts[i].seconds - pts[i - 1].seconds;
    if (dt <= 0) continue;
    rates.emplace_back(pts[i].seconds, static_cast<double>(pts[i].bytes - pts[i - 1].bytes) / dt);
  }
  double max_t = pts.back().seconds;
  double max_rate = 0;
  for (const auto& [t, v] : rates) max_rate = std::max(max_rate, v);
  if (max_rate <= 0) max_rate = 1;
  auto x = [&](double t) { return kLeft + t / max_t * (kW - kLeft - kRight); };
  auto y = [&](double v) { return kTop + (1 - v / max_rate) * (kH - kTop - kBottom); };
  std::string line = fmt::format("{:.1f},{:.1f}", x(pts.front().seconds), y(0));
  for (const auto& [t, v] : rates) line += fmt::format(" {:.1f},{:.1f}", x(t), y(v));
  out += fmt::format(
      R"(<svg viewBox="0 0 {0} {1}" width="100%" role="img" aria-label="restore throughput over {2:.1f} s">)", kW, kH,
      max_t);
  for (int i = 0; i <= 4; ++i) {
    double v = max_rate * i / 4;
    out += fmt::format(R"(<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" stroke="#e4e7ec"/>)", kLeft, kW - kRight,
                       y(v));
    out += fmt::format(R"(<text x="{}" y="{:.1f}" font-size="11" text-anchor="end" fill="#5b6475">{}/s</text>)",
                       kLeft - 6, y(v) + 4, Bytes(static_cast<uint64_t>(v)));
  }
  for (int i = 0; i <= 4; ++i) {
    double t = max_t * i / 4;
    const char* anchor = i == 0 ? "start" : i == 4 ? "end" : "middle";
    out += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="11" text-anchor="{}" fill="#5b6475">{}</text>)", x(t),
                       kH - 10, anchor, Escape(Duration(t)));
  }
  out += fmt::format(R"(<polygon points="{} {:.1f},{:.1f}" fill="#1e7a46" fill-opacity=".15"/>)", line, x(max_t), y(0));
  out += fmt::format(R"(<polyline points="{}" fill="none" stroke="#1e7a46" stroke-width="2"/>)", line);
  return out + "</svg></section>";
}

std::string TopicTable(const DrillReport& r) {
  std::string out =
      "<section><h2>Topics</h2><table><tr><th>Topic</th><th>Restored as</th><th class=n>Partitions</th>"
      "<th class=n>Records</th><th class=n>Bytes</th><th class=n>Restored in</th><th class=n>Rate</th>"
      "<th>Result</th></tr>";
  for (const auto& t : r.topics) {
    size_t failed = 0;
    for (const auto& p : r.partitions) failed += p.topic == t.name && !p.ok ? 1 : 0;
    double secs = t.restore_seconds.value_or(0);
    std::string parts = t.drilled_partitions < t.partitions
                            ? fmt::format("{} of {}", t.drilled_partitions, t.partitions)
                            : std::to_string(t.partitions);
    out += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td>"
        "<td class=n>{}</td><td class={}>{}</td></tr>",
        Escape(t.name), Escape(t.scratch_topic), parts, t.records, Bytes(t.bytes),
        t.restore_seconds ? Duration(secs) : "-",
        secs > 0 ? Bytes(static_cast<uint64_t>(static_cast<double>(t.bytes) / secs)) + "/s" : "-",
        failed ? "bad" : "ok", failed ? fmt::format("{} failed", failed) : "passed");
  }
  return out + "</table></section>";
}

std::string PartitionTable(const DrillReport& r) {
  std::vector<const DrillPartition*> rows;
  for (const auto& p : r.partitions) {
    if (!p.ok) rows.push_back(&p);
  }
  for (const auto& p : r.partitions) {
    if (p.ok && rows.size() < kMaxPartitionRows) rows.push_back(&p);
  }
  std::string out =
      "<section><h2>Partitions</h2><table><tr><th>Partition</th><th class=n>Records (backup)</th>"
      "<th class=n>Read back</th><th class=n>Offsets</th><th>Digest</th><th>Result</th></tr>";
  for (const auto* p : rows) {
    std::string offsets = p->first_offset ? fmt::format("{}..{}", *p->first_offset, *p->last_offset) : "-";
    out += fmt::format(
        "<tr><td>{}[{}]</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td><td class={}>{}</td>"
        "</tr>",
        Escape(p->topic), p->partition, p->expected_records, p->records, offsets, Escape(p->digest),
        p->ok ? "ok" : "bad", p->ok ? "passed" : Escape(p->problem));
  }
  out += "</table>";
  if (rows.size() < r.partitions.size()) {
    out += fmt::format("<p>{} more partitions passed; the JSON report lists them all.</p>",
                       r.partitions.size() - rows.size());
  }
  return out + "</section>";
}

}  // namespace

std::string DrillReportHtml(const DrillReport& r) {
  bool ok = r.ok();
  std::string title = fmt::format("Restore drill {}: backup {}", ok ? "passed" : "FAILED", r.backup_id);
  std::string out = fmt::format(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width\"><title>{}</title><style>{}</style></head><body><main>",
      Escape(title), kStyle);
  out += fmt::format("<header class=\"{}\"><h1>{}</h1><p>Drill {} of backup {}, on {} at {}</p></header>",
                     ok ? "pass" : "fail", ok ? "Restore drill passed" : "Restore drill FAILED", Escape(r.drill_id),
                     Escape(r.backup_id), Escape(r.target_bootstrap), util::FormatRfc3339(r.started_at_ms));
  out += Summary(r) + Lists(r) + Chart(r) + TopicTable(r) + PartitionTable(r);
  out += fmt::format(
      "<footer>kafka-backup {}. Validation: {}. Evidence: <code>{}</code> ({}). Scratch topics <code>{}*</code> "
      "{}.</footer>",
      Escape(r.tool_version), Escape(r.validation), Escape(r.evidence_key),
      r.signing_key_id.empty() ? "unsigned" : "signed by key " + Escape(r.signing_key_id), Escape(r.topic_prefix),
      r.kept ? "kept" : "deleted");
  return out + "</main></body></html>\n";
}

}  // namespace kafka_backup
