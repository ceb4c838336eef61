// The evaluation reports (issue 8): GET /api/v1/reports (JSON) and GET /api/v1/reports.csv, for
// any signed-in user (viewer and up). Thin: the range from server/report_input, the figures from
// store/report_store (both periods, on the blocking pool), the rendering from server/report_output.
#include "core/london_time.hpp"
#include "server/app.hpp"
#include "server/auth.hpp"
#include "server/http_util.hpp"
#include "server/report_input.hpp"
#include "server/report_output.hpp"
#include "store/report_store.hpp"

namespace md::server {
namespace {

struct report_result {
  report_range range;
  store::report_figures current, previous;
};

// The session, the range and both periods' figures; or the answer to give (401, 400).
awaitable<std::variant<report_result, http_response>> read_report(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto parsed = parse_report_range(query_params(ctx.request.target()), to_london(md::now()).date);
  if (auto* e = std::get_if<field_error>(&parsed)) co_return field_error_response(*e);
  auto work = [&app, range = std::get<report_range>(parsed)] {
    return app.database.with([&](store::pg_connection& c) {
      return report_result{range, store::read_report(c, range.current.from, range.current.to),
                           store::read_report(c, range.previous.from, range.previous.to)};
    });
  };
  auto result = co_await run_blocking(app.blocking, std::move(work));
  co_return std::move(result);
}

awaitable<http_response> handle_report(app_context& app, request_context& ctx) {
  auto found = co_await read_report(app, ctx);
  if (auto* r = std::get_if<http_response>(&found)) co_return std::move(*r);
  auto& report = std::get<report_result>(found);
  auto response = json_response(http::status::ok, report_json(report.range, report.current, report.previous));
  response.set(http::field::cache_control, "no-store");
  co_return response;
}

awaitable<http_response> handle_report_csv(app_context& app, request_context& ctx) {
  auto found = co_await read_report(app, ctx);
  if (auto* r = std::get_if<http_response>(&found)) co_return std::move(*r);
  auto& report = std::get<report_result>(found);
  http_response response{http::status::ok, 11};
  response.set(http::field::content_type, "text/csv; charset=utf-8");
  response.set(http::field::content_disposition,
               "attachment; filename=\"" + report_csv_filename(report.range) + "\"");
  response.set(http::field::cache_control, "no-store");
  response.body() = report_csv(report.current, report.previous);
  co_return response;
}

}  // namespace

void add_report_routes(router& r, app_context& app) {
  r.add(http::verb::get, "/api/v1/reports", [&app](request_context& c) { return handle_report(app, c); });
  r.add(http::verb::get, "/api/v1/reports.csv", [&app](request_context& c) { return handle_report_csv(app, c); });
}

}  // namespace md::server
