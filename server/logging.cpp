// spdlog set-up with an optional JSON-lines formatter (see logging.hpp).
#include "server/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/time.hpp"

namespace md::server {
namespace {

class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto t = std::chrono::time_point_cast<std::chrono::milliseconds>(msg.time);
    boost::json::object line{{"ts", format_iso8601(time_point{t.time_since_epoch()})},
                             {"level", spdlog::level::to_string_view(msg.level).data()},
                             {"msg", std::string_view(msg.payload.data(), msg.payload.size())}};
    auto text = boost::json::serialize(line);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

}  // namespace

void setup_logging(const log_settings& settings) {
  auto logger = std::make_shared<spdlog::logger>("mediadesk", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (settings.json) logger->set_formatter(std::make_unique<json_formatter>());
  else logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(settings.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace md::server
