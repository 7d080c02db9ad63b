#include "logging.h"

#include "common.h"

#include <chrono>
#include <cstdio>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace kafka_backup::cli {
namespace {

bool json_logs = false;

std::string UtcTime(std::chrono::system_clock::time_point t) {
  return FormatTime(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

std::string JsonLine(std::chrono::system_clock::time_point t, std::string_view level, std::string_view message) {
  nlohmann::json j{{"time", UtcTime(t)}, {"level", level}, {"message", message}};
  // Invalid UTF-8 (a topic name, a broker's message) is replaced, never fatal.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto level = spdlog::level::to_string_view(msg.level);
    std::string line = JsonLine(msg.time, std::string_view(level.data(), level.size()),
                                std::string_view(msg.payload.data(), msg.payload.size()));
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

void SetUpLogging(const std::string& level, const std::string& format) {
  auto logger = spdlog::stderr_color_mt("kafka-backup");
  json_logs = format == "json";
  if (json_logs) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

bool JsonLogs() {
  return json_logs;
}

void PrintError(const std::string& message, int exit_code) {
  SetSummaryError(message);
  if (!json_logs) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return;
  }
  nlohmann::json j{{"time", UtcTime(std::chrono::system_clock::now())},
                   {"level", "error"},
                   {"message", message},
                   {"exit_code", exit_code}};
  std::fprintf(stderr, "%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace kafka_backup::cli
