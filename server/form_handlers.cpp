// The public request form (no log-in): GET/POST /submit, the "received" page and its status poll.
// A valid post becomes the webhook's JSON document, checked by its validator; answered only once Redis has it.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "core/embedded_file.hpp"
#include "core/london_time.hpp"
#include "crypto/primitives.hpp"
#include "intake/webhook.hpp"
#include "mail/multipart_form.hpp"
#include "queue/rate_limit.hpp"
#include "server/app.hpp"
#include "server/html_page.hpp"
#include "server/http_util.hpp"
#include "server/intake_append.hpp"
#include "store/case_store.hpp"

std::span<const md::embedded_file> embedded_web_assets();

namespace md::server {
namespace json = boost::json;
namespace {

http_response page(const app_context& app, http::status status, json::object context) {
  return html_page(app, "submit.html", status, std::move(context));
}

http_response notice_page(const app_context& app, http::status status, std::string_view title, std::string_view text) {
  return page(app, status, json::object{{"notice_page", true}, {"title", title}, {"notice", text}});
}

// ---- the form itself (pure) ----------------------------------------------------------------------

struct form_field {
  std::string_view name;        // the input's name and id
  std::string_view json_field;  // the webhook contract's field (intake/webhook.hpp)
  std::size_t max_bytes;
};
// In page order, which is also the error summary's order.
constexpr form_field form_fields[] = {
    {"name", "journalist.name", 200}, {"email", "journalist.email", 320}, {"phone", "journalist.phone", 50},
    {"outlet", "outlet", 200},        {"subject", "subject", 300},        {"body", "body", 200'000},
    {"deadline", "deadline", 64},
};
constexpr std::size_t max_body_characters = 20'000;

struct form_input {
  std::map<std::string, std::string, std::less<>> values;  // by input name, cleaned
  bool honeypot = false;
  const std::string& operator[](std::string_view name) const {
    static const std::string empty;
    auto it = values.find(name);
    return it == values.end() ? empty : it->second;
  }
};

struct form_problem {
  std::string field, message;
};

// Valid UTF-8 (malformed bytes become U+FFFD, as a browser would show them), controls removed
// (line ends kept in the text area only), outer white space trimmed.
std::string clean_text(std::string_view raw, bool multiline) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size();) {
    auto c = static_cast<unsigned char>(raw[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool valid = n > 0 && i + n <= raw.size();
    for (std::size_t k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(raw[i + k]) & 0xc0) == 0x80;
    if (valid && n == 2) valid = c >= 0xc2;  // no overlong forms
    if (!valid) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (n == 1) {
      if (c == '\r') {
        if (multiline)
          out += '\n';
        else
          out += ' ';
        if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
      } else if (c == '\n') {
        out += multiline ? '\n' : ' ';
      } else if (c == '\t') {
        out += multiline ? '\t' : ' ';
      } else if (c >= 0x20 && c != 0x7f) {
        out += static_cast<char>(c);
      }
    } else {
      out.append(raw.substr(i, n));
    }
    i += n;
  }
  auto first = out.find_first_not_of(" \t\n");
  if (first == std::string::npos) return {};
  auto last = out.find_last_not_of(" \t\n");
  return out.substr(first, last - first + 1);
}

std::size_t character_count(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

form_input read_form(const mail::form_data& data) {
  form_input in;
  for (auto& f : form_fields) in.values[std::string{f.name}] = clean_text(data.value(f.name), f.name == "body");
  in.honeypot = !clean_text(data.value("website"), false).empty();
  return in;
}

// "2026-11-27T16:00" as a datetime-local input sends it (seconds allowed; a space for the "T"
// when a browser without the date picker shows a text box), read as Europe/London wall time.
std::optional<time_point> parse_london_deadline(std::string_view s) {
  auto number = [&](std::size_t at, std::size_t len, int& out) {
    if (at + len > s.size()) return false;
    auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + len, out);
    return ec == std::errc{} && p == s.data() + at + len && s[at] != '-' && s[at] != '+';
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 16 || !number(0, 4, y) || s[4] != '-' || !number(5, 2, mo) || s[7] != '-' || !number(8, 2, d) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !number(11, 2, h) || s[13] != ':' || !number(14, 2, mi))
    return std::nullopt;
  auto rest = s.substr(16);
  if (!rest.empty()) {  // ":SS" or ":SS.fff", ignored: deadlines are to the minute
    if (rest.size() < 3 || rest[0] != ':' || !number(17, 2, sec) || sec > 59) return std::nullopt;
    rest.remove_prefix(3);
    if (!rest.empty() && (rest[0] != '.' || rest.size() == 1 || rest.find_first_not_of("0123456789", 1) != rest.npos))
      return std::nullopt;
  }
  std::chrono::year_month_day date{std::chrono::year{y}, std::chrono::month(static_cast<unsigned>(mo)),
                                   std::chrono::day(static_cast<unsigned>(d))};
  if (!date.ok() || h > 23 || mi > 59) return std::nullopt;
  return from_london(date, h, mi);
}

bool plausible_phone(std::string_view phone) {
  std::size_t digits = 0;
  for (char c : phone) {
    if (c >= '0' && c <= '9')
      ++digits;
    else if (std::string_view{" +()-./#*xXextEXT"}.find(c) == std::string_view::npos)
      return false;
  }
  return digits >= 6;
}

std::string field_for(std::string_view json_field) {
  for (auto& f : form_fields)
    if (f.json_field == json_field) return std::string{f.name};
  return "body";
}

std::size_t field_for_index(std::string_view field) {
  for (std::size_t i = 0; i < std::size(form_fields); ++i)
    if (form_fields[i].name == field) return i;
  return std::size(form_fields);
}

struct checked_form {
  std::vector<form_problem> problems;
  std::string document;  // the webhook-format JSON, when there are no problems
};

// Checks each field with a message a person can act on, then builds the webhook document and runs
// it through the webhook's own validator, so that the worker can never reject what we accepted.
checked_form check_form(form_input& in, time_point now) {
  checked_form out;
  auto problem = [&](std::string_view field, std::string message) {
    for (auto& p : out.problems)
      if (p.field == field) return;
    out.problems.push_back({std::string{field}, std::move(message)});
  };
  for (auto& f : form_fields)
    if (in[f.name].size() > f.max_bytes)
      problem(f.name, fmt::format("{} must be {} characters or fewer",
                                  f.name == "name"      ? "Your name"
                                  : f.name == "email"   ? "The email address"
                                  : f.name == "phone"   ? "The phone number"
                                  : f.name == "outlet"  ? "The outlet"
                                  : f.name == "subject" ? "The subject"
                                  : f.name == "body"    ? "Your request"
                                                        : "The deadline",
                                  f.name == "body" ? max_body_characters : f.max_bytes));
  if (in["name"].empty()) problem("name", "Enter your name");
  if (in["email"].empty())
    problem("email", "Enter your email address");
  else if (!intake::plausible_email(in["email"]))
    problem("email", "Enter an email address in the correct format, like name@example.com");
  if (!in["phone"].empty() && !plausible_phone(in["phone"]))
    problem("phone", "Enter a phone number, like 01632 960 001 or +44 7700 900 982");
  if (in["body"].empty())
    problem("body", "Enter what you need");
  else if (character_count(in["body"]) > max_body_characters)
    problem("body", fmt::format("Your request must be {} characters or fewer", max_body_characters));
  std::optional<time_point> deadline;
  if (!in["deadline"].empty()) {
    deadline = parse_london_deadline(in["deadline"]);
    if (!deadline)
      problem("deadline", "Enter the deadline as a real date and time, like 2026-11-27 16:00");
    else if (*deadline < now - std::chrono::minutes(5))
      problem("deadline", "The deadline must be in the future");
    else if (*deadline > now + std::chrono::days(730))
      problem("deadline", "The deadline must be within the next two years");
    else  // shown back as the date picker expects it
      in.values["deadline"] = in["deadline"].substr(0, 10) + "T" + in["deadline"].substr(11, 5);
  }
  if (!out.problems.empty()) {
    std::stable_sort(out.problems.begin(), out.problems.end(),
                     [](auto& a, auto& b) { return field_for_index(a.field) < field_for_index(b.field); });
    return out;
  }

  json::object journalist{{"name", in["name"]}, {"email", in["email"]}};
  if (!in["phone"].empty()) journalist["phone"] = in["phone"];
  json::object document{{"journalist", std::move(journalist)}};
  if (!in["outlet"].empty()) document["outlet"] = in["outlet"];
  if (!in["subject"].empty()) document["subject"] = in["subject"];
  document["body"] = in["body"];
  if (deadline) document["deadline"] = format_iso8601(*deadline);
  out.document = json::serialize(document);
  auto validated = intake::validate_webhook_body(out.document);
  if (auto* e = std::get_if<field_error>(&validated)) {
    // Not expected (the checks above are stricter); the field name is safe to log, the value is not.
    spdlog::warn("form: the webhook validator refused a checked form at {}", e->field);
    out.problems.push_back({field_for(e->field), "Check this field: it could not be read"});
    out.document.clear();
  }
  return out;
}

json::object form_context(const form_input& in, const std::vector<form_problem>& problems) {
  json::object c{{"form_page", true}, {"title", "Ask the media desk"}};
  for (auto& f : form_fields) c[f.name] = in[f.name];
  json::array errors;
  for (auto& p : problems) {
    errors.push_back(json::object{{"field", p.field}, {"message", p.message}});
    c[p.field + "_error"] = p.message;
  }
  c["has_errors"] = !errors.empty();
  c["errors"] = std::move(errors);
  return c;
}

http_response form_page(const app_context& app, http::status status, const form_input& in,
                        const std::vector<form_problem>& problems = {}) {
  return page(app, status, form_context(in, problems));
}

// The form again with what was typed, under a notice that says what happened and that nothing was sent.
http_response form_notice(const app_context& app, http::status status, const form_input& in, std::string_view title,
                          std::string_view notice) {
  auto c = form_context(in, {});
  c["notice_title"] = title;
  c["notice"] = notice;
  return page(app, status, std::move(c));
}


// ---- intake status, shared by the received page and the poll -------------------------------------

struct public_status {
  std::string status;  // queued | processed | failed
  std::optional<std::string> case_ref;
};

// nullopt: no such intake. Throws unavailable_error when PostgreSQL or Redis cannot answer.
std::optional<public_status> find_status(app_context& app, const std::string& id) {
  auto stored = app.database.with([&](store::pg_connection& c) { return store::find_intake(c, id); });
  if (stored) return public_status{stored->status, stored->case_ref};
  bool seen = app.redis.with([&](queue::redis_connection& c) {
    auto r = c.command({"EXISTS", app.redis_keys.intake_seen(id)});
    return r->type == REDIS_REPLY_INTEGER && r->integer == 1;
  });
  if (seen) return public_status{"queued", std::nullopt};
  return std::nullopt;
}

// ---- handlers ------------------------------------------------------------------------------------

awaitable<http_response> handle_form(app_context& app, request_context&) {
  co_return form_page(app, http::status::ok, form_input{});
}

awaitable<http_response> handle_submit(app_context& app, request_context& ctx) {
  auto received = now();
  std::string content_type{ctx.request[http::field::content_type]};
  for (auto& ch : content_type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (!content_type.starts_with("application/x-www-form-urlencoded"))
    co_return notice_page(app, http::status::unsupported_media_type, "Send the form from its page",
                          "This address takes the request form only. Open the form and send it from there.");
  mail::form_limits limits;
  limits.max_parts = 50;
  auto parsed = mail::parse_urlencoded_form(ctx.request.body(), limits);
  if (std::holds_alternative<mail::form_error>(parsed))
    co_return notice_page(app, http::status::bad_request, "The form could not be read",
                          "Open the form and send it again.");
  auto input = read_form(std::get<mail::form_data>(parsed));
  auto checked = check_form(input, received);
  if (!checked.problems.empty()) co_return form_page(app, http::status::bad_request, input, checked.problems);

  // Count the submission before queueing it. A filled honeypot is counted and answered like a real
  // one, with a "seen" marker so that its received page says queued too, but nothing is appended.
  auto key = app.redis_keys.rate_limit("form", client_network(ctx.remote.address(), ctx.request));
  auto decoy_id = input.honeypot ? crypto::new_intake_id() : std::string{};
  auto limit = app.config.inbound.form_submissions_per_ip_per_hour;
  struct limit_state {
    std::int64_t count = 0, ttl = 0;
  };
  auto work = [&app, key, decoy_id, limit]() -> limit_state {
    return app.redis.with([&](queue::redis_connection& c) {
      auto counted = queue::count_in_window(c, key, std::chrono::hours(1));
      limit_state s{counted.count, counted.ttl_seconds};
      if (!decoy_id.empty() && s.count <= limit) {
        auto seconds = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(queue::intake_seen_ttl).count());
        c.command({"SET", app.redis_keys.intake_seen(decoy_id), "1", "EX", seconds});
      }
      return s;
    });
  };
  limit_state state;
  bool unavailable = false;
  try {
    state = co_await run_blocking(app.blocking, std::move(work));
  } catch (const unavailable_error& e) {
    spdlog::warn("POST /submit: {}", e.what());
    unavailable = true;
  }
  if (!unavailable && state.count > limit) {
    auto wait_minutes = std::max<std::int64_t>(1, (state.ttl + 59) / 60);
    auto r = form_notice(
        app, http::status::too_many_requests, input, "Too many requests from your network",
        fmt::format("Nothing was sent. Please try again in {} minute{}.", wait_minutes, wait_minutes == 1 ? "" : "s"));
    r.set(http::field::retry_after, std::to_string(std::max<std::int64_t>(1, state.ttl)));
    co_return r;
  }

  std::string intake_id = decoy_id;
  if (!unavailable && !input.honeypot) {
    auto record =
        intake::make_intake_record(app.keys, intake::intake_source::form, checked.document, to_unix_ms(received));
    queue::append_request append{.record = std::move(record)};
    if (auto limit = app.config.inbound.form_submissions_per_sender_per_hour; limit > 0) {
      append.sender_rate_key = app.sender_rate_key("form", input["email"]);
      append.sender_limit = limit;
    }
    auto outcome = co_await async_append(app, std::move(append));
    app.metrics.intake_ack_seconds.observe(std::chrono::duration<double>(now() - received).count());
    if (outcome.result == queue::append_outcome::status::limited) {
      auto wait_minutes = std::max<std::int64_t>(1, (outcome.retry_after_s + 59) / 60);
      auto r = form_notice(app, http::status::too_many_requests, input, "Too many requests from this email address",
                           fmt::format("Nothing was sent. Please try again in {} minute{}.",
                                       wait_minutes, wait_minutes == 1 ? "" : "s"));
      r.set(http::field::retry_after, std::to_string(outcome.retry_after_s));
      co_return r;
    }
    if (outcome.result == queue::append_outcome::status::unavailable) {
      ++app.metrics.intakes_unavailable;
      unavailable = true;
    } else {
      intake_id = outcome.intake_id;
    }
  } else if (input.honeypot && !unavailable) {
    spdlog::info("POST /submit: honeypot field filled; answered as accepted, nothing queued");
  }
  if (unavailable) {
    auto r = form_notice(app, http::status::service_unavailable, input, "The service is busy",
                         "Please try again in a minute. Nothing was sent.");
    r.set(http::field::retry_after, "60");
    co_return r;
  }
  auto location = "/submit/received/" + intake_id;
  http_response r{http::status::see_other, 11};
  r.set(http::field::location, location);
  r.set(http::field::content_type, "text/html; charset=utf-8");
  r.body() = "<!doctype html><title>Request received</title><a href=\"" + location + "\">Request received</a>";
  co_return r;
}

awaitable<http_response> handle_received(app_context& app, request_context& ctx) {
  std::string id{ctx.path_param("id")};
  if (!crypto::is_valid_intake_id(id))
    co_return notice_page(app, http::status::not_found, "Request not found",
                          "There is no request with this number. Check the address, or send the request again.");
  auto work = [&app, id] { return find_status(app, id); };
  std::optional<public_status> status;
  bool unknown = false;
  try {
    status = co_await run_blocking(app.blocking, std::move(work));
  } catch (const unavailable_error&) {
    unknown = true;  // the page still shows the request number; the script keeps asking
  }
  if (!status && !unknown)
    co_return notice_page(app, http::status::not_found, "Request not found",
                          "There is no request with this number. Check the address, or send the request again.");
  json::object c{{"received_page", true}, {"title", "Request received"}, {"intake_id", id}};
  c["status"] = status ? status->status : "queued";
  c["failed"] = status && status->status == "failed";
  if (status && status->case_ref) c["case_ref"] = *status->case_ref;
  co_return page(app, http::status::ok, std::move(c));
}

// Public: reveals only the status and the case reference, for an id nobody can guess.
awaitable<http_response> handle_status(app_context& app, request_context& ctx) {
  std::string id{ctx.path_param("id")};
  if (!crypto::is_valid_intake_id(id)) co_return error_response(http::status::not_found, "no such request");
  auto work = [&app, id] { return find_status(app, id); };
  auto status = co_await run_blocking(app.blocking, std::move(work));
  if (!status) co_return error_response(http::status::not_found, "no such request");
  co_return json_response(http::status::ok,
                          json::object{{"status", status->status}, {"case", optional_json(status->case_ref)}});
}

}  // namespace

void add_form_routes(router& r, app_context& app) {
  r.add(http::verb::get, "/submit", [&app](request_context& c) { return handle_form(app, c); });
  r.add(http::verb::post, "/submit", [&app](request_context& c) { return handle_submit(app, c); });
  r.add(http::verb::get, "/submit/received/{id}", [&app](request_context& c) { return handle_received(app, c); });
  r.add(http::verb::get, "/submit/status/{id}", [&app](request_context& c) { return handle_status(app, c); });
}

}  // namespace md::server
