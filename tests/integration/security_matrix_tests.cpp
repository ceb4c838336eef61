// Integration: the security matrix (issue 9, "Security tests"), against one real stack. Every route
// of the server's own table (cmake/route_table.cmake reads it from server/*.cpp, so a new route is
// checked here, or fails here until it is classified) is either public by design, with its own
// credential where it has one, or refuses: no session 401, no or a wrong X-CSRF-Token 403, a role
// below the route's 403, with real ids in its path so that the refusal is the handler's own, and
// nothing changed in PostgreSQL or Redis. Then another case's or offer's ids (IDOR), used, altered
// and withdrawn offer links, ended sessions; SQL-injection strings in every input (4xx naming the
// field, or stored and read back literally; never 5xx, never slow, the schema intact); markup in
// what the server renders (escaped) and returns (as data); altered and replayed webhooks.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <signal.h>

#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <algorithm>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "crypto/primitives.hpp"
#include "intake/webhook.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;
namespace http = boost::beast::http;

namespace {

// ---- the route table and its classification ----------------------------------------------------

struct route {
  http::verb verb;
  std::string pattern;
  std::string method() const { return std::string(http::to_string(verb)); }
  std::string key() const { return method() + " " + pattern; }
  bool unsafe() const { return verb != http::verb::get && verb != http::verb::head; }
};

// Exactly what the server registers: generated at build time from every r.add(http::verb::X,
// "PATTERN") in server/*.cpp (tests/CMakeLists.txt, md_server_routes).
const std::vector<route>& route_table() {
  static const std::vector<route> table = [] {
    const std::pair<http::verb, const char*> patterns[] = {
#include "server_routes.inc"
    };
    std::vector<route> out;
    for (auto& [verb, pattern] : patterns) out.push_back({verb, pattern});
    return out;
  }();
  return table;
}

// Public on purpose, and why. Anything not here must be in required_role below.
const std::map<std::string, std::string_view> public_routes{
    {"GET /", "the dashboard's shell: no data in it, its API calls need a session"},
    {"GET /static/*", "the dashboard's scripts and styles"},
    {"GET /healthz", "liveness, for the load balancer"},
    {"GET /readyz", "readiness: says only whether PostgreSQL and Redis answer"},
    {"GET /metrics", "Prometheus counters: counts, nothing personal"},
    {"POST /bench/trivial", "the benchmark's baseline, registered only with http.benchmark_route"},
    {"GET /submit", "the public request form"},
    {"POST /submit", "the public request form (rate-limited per address)"},
    {"GET /submit/received/{id}", "the form's received page: the intake id is unguessable"},
    {"GET /submit/status/{id}", "the received page's poll: status and case ref only"},
    {"POST /api/v1/requests", "the newsroom webhook: its own HMAC signature"},
    {"POST /api/v1/inbound/postmark", "Postmark: HTTP Basic with the configured token"},
    {"POST /api/v1/inbound/mailgun", "Mailgun: its signed, single-use token"},
    {"POST /api/v1/inbound/mailgun/mime", "Mailgun: its signed, single-use token"},
    {"GET /respond/{token}", "the partner's offer link: the token is the credential"},
    {"POST /respond/{token}", "the partner's answer: the token is the credential"},
    {"POST /api/v1/login", "log-in itself (rate-limited per address)"},
};

enum class need { viewer = 1, staff = 2, admin = 3 };
std::string_view name_of(need n) { return n == need::viewer ? "viewer" : n == need::staff ? "staff" : "admin"; }

// The least role each staff route needs, as server/*.cpp asks require_session for it and
// docs/SECURITY.md describes: viewers read, staff change, admins archive, erase, export and audit.
const std::map<std::string, need> required_role{
    {"POST /api/v1/logout", need::viewer},
    {"GET /api/v1/session", need::viewer},
    {"GET /api/v1/cases", need::viewer},
    {"POST /api/v1/cases", need::staff},
    {"GET /api/v1/cases/{ref}", need::viewer},
    {"POST /api/v1/cases/{ref}/reveal", need::staff},
    {"GET /api/v1/intake/{id}", need::viewer},
    {"PUT /api/v1/cases/{ref}/assignee", need::staff},
    {"GET /api/v1/cases/{ref}/notes", need::staff},
    {"POST /api/v1/cases/{ref}/notes", need::staff},
    {"GET /api/v1/users", need::viewer},
    {"GET /api/v1/events", need::viewer},
    {"POST /api/v1/cases/{ref}/coverage", need::staff},
    {"GET /api/v1/cases/{ref}/coverage", need::viewer},
    {"GET /api/v1/aftercare", need::staff},
    {"POST /api/v1/aftercare/{id}/done", need::staff},
    {"GET /api/v1/cases/{ref}/matches", need::viewer},
    {"POST /api/v1/cases/{ref}/offers", need::staff},
    {"POST /api/v1/cases/{ref}/offers/{id}/withdraw", need::staff},
    {"POST /api/v1/cases/{ref}/offers/{id}/release", need::staff},
    {"PUT /api/v1/cases/{ref}/waterfall", need::staff},
    {"POST /api/v1/cases/{ref}/status", need::staff},
    {"POST /api/v1/cases/{ref}/replies", need::staff},
    {"PATCH /api/v1/cases/{ref}/triage", need::staff},
    {"POST /api/v1/cases/{ref}/retriage", need::staff},
    {"GET /api/v1/triage/accuracy", need::viewer},
    {"GET /api/v1/taxonomy", need::viewer},
    {"GET /api/v1/reports", need::viewer},
    {"GET /api/v1/reports.csv", need::viewer},
    {"GET /api/v1/partners", need::viewer},
    {"POST /api/v1/partners", need::staff},
    {"GET /api/v1/partners/{id}", need::viewer},
    {"PATCH /api/v1/partners/{id}", need::staff},
    {"DELETE /api/v1/partners/{id}", need::admin},
    {"POST /api/v1/partners/{id}/reveal", need::staff},
    {"GET /api/v1/spokespeople", need::viewer},
    {"POST /api/v1/spokespeople", need::staff},
    {"GET /api/v1/spokespeople/{id}", need::viewer},
    {"PATCH /api/v1/spokespeople/{id}", need::staff},
    {"DELETE /api/v1/spokespeople/{id}", need::admin},
    {"POST /api/v1/spokespeople/{id}/reveal", need::staff},
    {"POST /api/v1/spokespeople/{id}/export", need::admin},
    {"GET /api/v1/spokespeople/{id}/consents", need::viewer},
    {"POST /api/v1/spokespeople/{id}/consents", need::staff},
    {"POST /api/v1/spokespeople/{id}/consents/{consent_id}/withdraw", need::staff},
    {"GET /api/v1/audit/reveals", need::admin},
    {"GET /api/v1/consents/expiring", need::viewer},
    {"POST /api/v1/journalists/export", need::admin},
    {"POST /api/v1/journalists/erase", need::admin},
};

// ---- helpers ---------------------------------------------------------------------------------------

std::string percent_encoded(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string json_text(std::string_view s) { return json::serialize(json::value(json::string(s))); }

std::string error_of(const http_result& r) { return json_string(r.body, "error"); }
std::string field_of(const http_result& r) { return json_string(r.body, "field"); }

std::string changed_one_character(std::string s, std::size_t at) {
  s[at] = s[at] == 'A' ? 'B' : 'A';
  return s;
}

// The ids that fill a route's path parameters, all of them real (so that a refusal is the
// handler's own, not a 404 for a made-up id).
struct ids {
  std::string ref, intake;
  std::int64_t offer = 0, aftercare = 0, partner = 0, spokesperson = 0, consent = 0;
  std::string token;
};

std::string filled(const std::string& pattern, const ids& x) {
  std::string out;
  std::size_t at = 0;
  while (at < pattern.size()) {
    auto open = pattern.find('{', at);
    if (open == std::string::npos) {
      out += pattern.substr(at);
      break;
    }
    out += pattern.substr(at, open - at);
    auto close = pattern.find('}', open);
    auto name = pattern.substr(open + 1, close - open - 1);
    auto before = std::string_view(pattern).substr(0, open);
    std::string value;
    if (name == "ref") value = x.ref;
    else if (name == "token") value = x.token;
    else if (name == "consent_id") value = std::to_string(x.consent);
    else if (name == "id" && before.ends_with("/offers/")) value = std::to_string(x.offer);
    else if (name == "id" && before == "/api/v1/aftercare/") value = std::to_string(x.aftercare);
    else if (name == "id" && before == "/api/v1/partners/") value = std::to_string(x.partner);
    else if (name == "id" && before == "/api/v1/spokespeople/") value = std::to_string(x.spokesperson);
    else if (name == "id" && (before == "/api/v1/intake/" || before.starts_with("/submit/"))) value = x.intake;
    else FAIL("no value for {" << name << "} in " << pattern << ": give the security matrix one (filled())");
    out += value;
    at = close + 1;
  }
  if (out.ends_with("/*")) out.replace(out.size() - 1, 1, "style.css");
  return out;
}

// A body the route would accept from the right role: a refusal must be the only thing that stops it.
std::string body_for(const route& r, const ids& x, std::int64_t staff_id) {
  auto k = r.key();
  auto ends = [&](std::string_view s) { return r.pattern.ends_with(s); };
  if (r.verb == http::verb::post && r.pattern == "/api/v1/cases") return R"({"summary":"a matrix pitch"})";
  if (ends("/reveal") || (ends("/export") && r.pattern.starts_with("/api/v1/spokespeople")))
    return R"({"reason":"security matrix"})";
  if (ends("/assignee")) return fmt::format(R"({{"user_id":{}}})", staff_id);
  if (ends("/notes")) return R"({"text":"a matrix note"})";
  if (ends("/coverage"))
    return R"({"outlet_name":"The Chronicle","outlet_scope":"local","medium":"print","appeared_on":"2025-06-01",)"
           R"("lived_experience_quoted":true,"tone":"balanced"})";
  if (ends("/offers")) return fmt::format(R"({{"partner_id":{}}})", x.partner);
  if (ends("/waterfall")) return R"({"on":true})";
  if (ends("/status")) return R"({"status":"no_match"})";
  if (ends("/replies")) return R"({"body":"a matrix reply"})";
  if (ends("/triage")) return R"({"medium":"tv"})";
  if (k == "POST /api/v1/partners") return R"({"key":"matrix","name":"Matrix","contact_email":"m@matrix.example"})";
  if (k == "PATCH /api/v1/partners/{id}") return R"({"name":"Renamed"})";
  if (k == "POST /api/v1/spokespeople") return R"({"alias":"Matrix Speaker"})";
  if (k == "PATCH /api/v1/spokespeople/{id}") return R"({"alias":"Renamed Speaker"})";
  if (ends("/consents")) return R"({"media":["radio"],"identification":"named"})";
  if (r.pattern.starts_with("/api/v1/journalists/")) return R"({"email":"dana@radio.example","reason":"security matrix"})";
  return r.unsafe() ? "{}" : "";
}

// A cheap fingerprint of everything a call could change: every table's rows (hashed), the
// number of sessions (their last_seen_at moves on reads), and the Redis streams' lengths.
std::map<std::string, std::string> fingerprint(test_stack& stack) {
  auto db = stack.database();
  std::map<std::string, std::string> out;
  auto tables = db.exec("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
  for (int i = 0; i < tables.rows(); ++i) {
    std::string name{tables.get(i, 0)};
    if (name == "sessions") {
      out[name] = std::to_string(count_rows(db, "SELECT count(*) FROM sessions"));
      continue;
    }
    auto r = db.exec(fmt::format(R"(SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM "{}" t)",
                                 name));
    out[name] = fmt::format("{} {}", r.get(0, 0), r.get(0, 1));
  }
  auto redis = stack.redis();
  for (auto stream : {"md:intake", "md:outbox", "md:intake:dead"})
    out[std::string("redis ") + stream] = std::to_string(redis.command({"XLEN", stream})->integer);
  return out;
}

void check_unchanged(const std::map<std::string, std::string>& before, const std::map<std::string, std::string>& after,
                     const std::string& what) {
  for (auto& [name, value] : before) {
    auto it = after.find(name);
    INFO(what << ": " << name);
    CHECK(it != after.end());
    if (it != after.end()) CHECK(it->second == value);
  }
  CHECK(after.size() == before.size());
}

// A request with exactly these credentials (none of the client's own).
http_result call(test_stack& stack, const std::string& method, const std::string& path, const std::string& body,
                 std::vector<std::string> headers) {
  auto c = stack.client();
  return c.request(method, path, body, headers);
}

std::string cookie_header(const http_client& c) { return "Cookie: " + c.cookie(); }
std::string csrf_header(const http_client& c) { return "X-CSRF-Token: " + c.csrf(); }

// The message bodies are quoted-printable: join soft line breaks so that links read whole.
std::string unfolded(std::string text) {
  for (std::string::size_type at; (at = text.find("=\r\n")) != std::string::npos;) text.erase(at, 3);
  for (std::string::size_type at; (at = text.find("=3D")) != std::string::npos;) text.replace(at, 3, "=");
  return text;
}

// The offer link's token in the email to `address` about case `ref`.
std::string wait_for_token(const fs::path& maildir, const std::string& address, const std::string& ref) {
  std::string token;
  bool found = eventually(
      [&] {
        if (!fs::exists(maildir / "new")) return false;
        for (auto& f : fs::directory_iterator(maildir / "new")) {
          auto m = unfolded(read_file(f.path()));
          if (m.find(address) == std::string::npos || m.find(ref) == std::string::npos) continue;
          std::smatch match;
          if (std::regex_search(m, match, std::regex("/respond/([A-Za-z0-9_-]{43})"))) {
            token = match[1];
            return true;
          }
        }
        return false;
      },
      20s);
  REQUIRE(found);
  return token;
}

std::int64_t created_id(const http_result& r, const std::string& kind) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == 201);
  return json_object_of(r).at(kind).at("id").as_int64();
}

std::string request_json(const std::string& email, const std::string& outlet = "BBC Radio Newcastle",
                         const std::string& subject = "Asylum support",
                         const std::string& body = "Looking for someone to talk about the asylum process in Newcastle.") {
  return json::serialize(json::object{{"journalist", json::object{{"name", "Dana Reporter"}, {"email", email}}},
                                      {"outlet", outlet},
                                      {"subject", subject},
                                      {"body", body}});
}

// ---- the stack, seeded once for the whole binary ---------------------------------------------------

class world {
 public:
  world() : stack_("secmatrix") {
    maildir_ = stack_.home() / "mailbox";
    env_ = {{"MEDIADESK_MAIL_MAILDIR", maildir_.string()},
            {"MEDIADESK_SESSION_LOGIN_ATTEMPTS_PER_15_MINUTES", "10000"},
            {"MEDIADESK_INBOUND_FORM_SUBMISSIONS_PER_IP_PER_HOUR", "100000"},
            {"MEDIADESK_INBOUND_WEBHOOK_BAD_SIGNATURES_PER_IP_PER_HOUR", "1000000"},
            {"MEDIADESK_INBOUND_POSTMARK_TOKEN", postmark_token},
            {"MEDIADESK_INBOUND_MAILGUN_SIGNING_KEY", "mailgun-signing-key"}};
    stack_.start("serve", env_);
    start_worker();
    admin_ = std::make_unique<http_client>(stack_.admin());
    staff_ = std::make_unique<http_client>(logged_in_as(stack_, "staff@example.org", "staff"));
    viewer_ = std::make_unique<http_client>(logged_in_as(stack_, "viewer@example.org", "viewer"));
    staff_id_ = json_object_of(staff_->get("/api/v1/session")).at("user_id").as_int64();
    a_ = seed_case("a");
    b_ = seed_case("b");
  }

  test_stack& stack() { return stack_; }
  http_client& admin() { return *admin_; }
  http_client& staff() { return *staff_; }
  http_client& viewer() { return *viewer_; }
  http_client& role(need n) { return n == need::viewer ? viewer() : n == need::staff ? staff() : admin(); }
  std::int64_t staff_id() const { return staff_id_; }
  const ids& a() const { return a_; }
  const ids& b() const { return b_; }
  const fs::path& maildir() const { return maildir_; }
  const std::map<std::string, std::string>& env() const { return env_; }

  void start_worker() {
    if (worker_ < 0) worker_ = stack_.start("worker", env_);
  }
  // Stopped, so that nothing changes the database or the streams behind a test's back.
  void stop_worker() {
    if (worker_ < 0) return;
    stack_.kill(worker_, SIGTERM);
    REQUIRE(stack_.wait_exit(worker_, 20s) == 0);
    worker_ = -1;
  }

  // A case from the webhook, triaged by staff, with an offer (and its link's token), coverage
  // naming a spokesperson (so an aftercare task) and a note, its own partner and spokesperson.
  ids seed_case(const std::string& name) {
    start_worker();
    ids x;
    auto partner_email = fmt::format("contact@forum-{}.example.org", name);
    x.partner = created_id(staff().request("POST", "/api/v1/partners",
                                           json::serialize(json::object{{"key", "forum-" + name},
                                                                        {"name", "Forum " + name},
                                                                        {"contact_email", partner_email},
                                                                        {"regions", json::array{"newcastle"}},
                                                                        {"topics", json::array{"asylum_process"}}})),
                           "partner");
    x.spokesperson = created_id(
        staff().request("POST", "/api/v1/spokespeople",
                        json::serialize(json::object{{"partner_id", x.partner},
                                                     {"alias", "Speaker " + name},
                                                     {"full_name", "Hidden Name " + name},
                                                     {"regions", json::array{"newcastle"}},
                                                     {"topics", json::array{"asylum_process"}},
                                                     {"languages", json::array{"en"}}})),
        "spokesperson");
    x.consent = created_id(staff().request("POST", fmt::format("/api/v1/spokespeople/{}/consents", x.spokesperson),
                                           R"({"media":["radio","tv","print"],"identification":"first_name",)"
                                           R"("topics":["asylum_process"],"expires_at":"2099-01-01T00:00:00Z"})"),
                           "consent");
    auto [intake, ref] = request_to_case(stack_, admin(), request_json(fmt::format("dana-{}@radio.example", name)));
    x.intake = intake;
    x.ref = ref;
    REQUIRE(staff()
                .request("PATCH", "/api/v1/cases/" + ref + "/triage",
                         R"({"topics":["asylum_process"],"regions":["newcastle"],"medium":"radio"})")
                .status == 200);
    x.offer = created_id(staff().request("POST", "/api/v1/cases/" + ref + "/offers",
                                         fmt::format(R"({{"partner_id":{},"spokesperson_id":{}}})", x.partner, x.spokesperson)),
                         "offer");
    auto coverage = staff().request(
        "POST", "/api/v1/cases/" + ref + "/coverage",
        fmt::format(R"({{"outlet_name":"BBC Radio Newcastle","outlet_scope":"local","medium":"radio",)"
                    R"("appeared_on":"2025-06-01","lived_experience_quoted":true,"tone":"balanced","spokesperson_id":{},)"
                    R"("headline":"Coverage of case {}"}})",
                    x.spokesperson, name));
    REQUIRE(coverage.status == 201);
    x.aftercare = json_object_of(coverage).at("aftercare").at("id").as_int64();
    REQUIRE(staff().request("POST", "/api/v1/cases/" + ref + "/notes", R"({"text":"Note on case )" + name + "\"}").status ==
            201);
    x.token = wait_for_token(maildir_, partner_email, ref);
    return x;
  }

  static constexpr const char* postmark_token = "postmark-token-for-tests";

 private:
  test_stack stack_;
  fs::path maildir_;
  std::map<std::string, std::string> env_;
  int worker_ = -1;
  std::unique_ptr<http_client> admin_, staff_, viewer_;
  std::int64_t staff_id_ = 0;
  ids a_, b_;
};

world& the_world() {
  static world w;
  return w;
}

}  // namespace

// ==== 1. the authentication matrix =================================================================

TEST_CASE("every route in the server's table is public by design or refuses no session, no CSRF token and a lower role",
          "[security]") {
  auto& w = the_world();
  w.stop_worker();
  auto& stack = w.stack();
  auto& routes = route_table();
  REQUIRE(routes.size() > 40);

  // Each route is classified exactly once, and the lists name no route the server lacks.
  std::set<std::string> keys;
  for (auto& r : routes) {
    keys.insert(r.key());
    bool is_public = public_routes.contains(r.key());
    bool is_protected = required_role.contains(r.key());
    INFO(r.key());
    if (!is_public && !is_protected)
      FAIL_CHECK(r.key() << " is neither in public_routes nor in required_role: say which (and why, if public)");
    CHECK_FALSE((is_public && is_protected));
  }
  for (auto& [key, why] : public_routes) CHECK(keys.contains(key));
  for (auto& [key, role] : required_role) CHECK(keys.contains(key));

  const ids& x = w.a();
  auto before = fingerprint(stack);
  const std::string forged = "Cookie: md_session=" + crypto::random_token(32);
  auto admin_cookie = w.admin().cookie();
  auto altered_cookie = "Cookie: " + changed_one_character(admin_cookie, admin_cookie.size() - 3);
  int checked = 0, calls = 0;
  for (auto& r : routes) {
    auto role_it = required_role.find(r.key());
    if (role_it == required_role.end()) continue;
    ++checked;
    auto path = filled(r.pattern, x);
    auto body = body_for(r, x, w.staff_id());
    auto method = r.method();
    INFO(method << " " << path << " " << body);

    // No session, a forged one, an altered one: 401 from the session check itself.
    for (auto& headers : std::vector<std::vector<std::string>>{{}, {forged}, {altered_cookie}, {"Cookie: md_session="}}) {
      auto refused = call(stack, method, path, body, headers);
      ++calls;
      CHECK(refused.status == 401);
      CHECK((error_of(refused) == "log in first" || error_of(refused) == "your session has ended; log in again"));
    }
    if (r.verb == http::verb::get) {  // HEAD is routed as GET: refused the same way
      ++calls;
      CHECK(call(stack, "HEAD", path, "", {}).status == 401);
    }

    // State-changing calls with a live admin session but no, an empty or another session's token: 403.
    if (r.unsafe()) {
      for (auto& csrf : std::vector<std::string>{"", "X-CSRF-Token:", csrf_header(w.staff()),
                                                 "X-CSRF-Token: " + changed_one_character(w.admin().csrf(), 0)}) {
        std::vector<std::string> headers{cookie_header(w.admin())};
        if (!csrf.empty()) headers.push_back(csrf);
        auto refused = call(stack, method, path, body, headers);
        ++calls;
        CHECK(refused.status == 403);
        CHECK(error_of(refused) == "missing or wrong X-CSRF-Token header");
      }
    }

    // A role below the route's: 403, with a valid CSRF token.
    auto needed = role_it->second;
    for (auto below : {need::viewer, need::staff}) {
      if (below >= needed) continue;
      if (r.pattern == "/api/v1/events") continue;  // never reached: viewers may read the feed
      auto refused = w.role(below).request(method, path, body);
      ++calls;
      INFO("as " << name_of(below));
      CHECK(refused.status == 403);
      CHECK(error_of(refused) == "your role does not allow this");
    }

    // Reads with the least role they need answer 200: the ids in the path are real.
    if (r.verb == http::verb::get && r.pattern != "/api/v1/events") {
      auto allowed = w.role(needed).request(method, path);
      ++calls;
      INFO("as " << name_of(needed) << ": " << allowed.body.substr(0, 300));
      CHECK(allowed.status == 200);
    }
  }
  check_unchanged(before, fingerprint(stack), "after every refused call");
  fmt::print("security matrix: {} routes in the table, {} public, {} protected checked with {} calls\n", routes.size(),
             routes.size() - checked, checked, calls);
}

TEST_CASE("public routes keep their own credentials: webhook signature, inbound providers, offer links", "[security]") {
  auto& w = the_world();
  w.stop_worker();
  auto& stack = w.stack();
  auto before = fingerprint(stack);
  auto body = request_json("nobody@radio.example");
  auto c = stack.client();
  CHECK(c.request("POST", "/api/v1/requests", body).status == 401);
  CHECK(c.request("POST", "/api/v1/requests", body, {"X-Signature: t=1,v1=00"}).status == 401);
  CHECK(c.request("POST", "/api/v1/inbound/postmark", R"({"From":"a@b.example"})").status == 401);
  CHECK(c.request("POST", "/api/v1/inbound/postmark", R"({"From":"a@b.example"})",
                  {"Authorization: Basic " + crypto::to_base64url(std::string("postmark:") + "not-the-token")})
            .status == 401);
  for (auto path : {"/api/v1/inbound/mailgun", "/api/v1/inbound/mailgun/mime"})
    CHECK(c.request("POST", path, "timestamp=1&token=x&signature=00&sender=a%40b.example",
                    {"Content-Type: application/x-www-form-urlencoded"})
              .status == 401);
  // An offer link without its token, or with a made-up one: 404, nothing about any offer.
  auto unknown = crypto::random_token(32);
  CHECK(c.get("/respond/" + unknown).status == 404);
  CHECK(c.request("POST", "/respond/" + unknown, "action=accept", {"Content-Type: application/x-www-form-urlencoded"})
            .status == 404);
  check_unchanged(before, fingerprint(stack), "after refused public calls");
}

// ==== 2. another case's ids, offer links, ended sessions ============================================

TEST_CASE("another case's offer, another spokesperson's consent, a used, altered or withdrawn link: refused, nothing "
          "changed",
          "[security]") {
  auto& w = the_world();
  w.stop_worker();
  auto& stack = w.stack();
  auto& staff = w.staff();
  const ids& a = w.a();
  const ids& b = w.b();
  auto offer_state = [&](const ids& x) {
    auto detail = json_object_of(w.admin().get("/api/v1/cases/" + x.ref));
    for (auto& o : detail.at("case").at("offers").as_array())
      if (o.at("id").as_int64() == x.offer) return std::string(o.at("state").as_string());
    return std::string("missing");
  };
  REQUIRE(offer_state(a) == "sent");
  REQUIRE(offer_state(b) == "sent");

  auto before = fingerprint(stack);
  // One case's offer under the other's ref: no such open offer there.
  for (auto& [owner, other] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    for (auto action : {"withdraw", "release"}) {
      auto r = staff.request("POST", fmt::format("/api/v1/cases/{}/offers/{}/{}", other->ref, owner->offer, action));
      INFO(action << " offer " << owner->offer << " under " << other->ref << ": " << r.body);
      CHECK((r.status == 404 || r.status == 409));
    }
  }
  // One spokesperson's consent withdrawn under another's id: 404.
  CHECK(staff.request("POST", fmt::format("/api/v1/spokespeople/{}/consents/{}/withdraw", a.spokesperson, b.consent))
            .status == 404);
  // Unknown ids and refs, and ids of the wrong kind (a partner's id as an offer's).
  CHECK(staff.request("POST", fmt::format("/api/v1/cases/{}/offers/{}/withdraw", a.ref, a.partner + 100000)).status ==
        409);
  CHECK(staff.request("POST", fmt::format("/api/v1/cases/MD-2026-999999/offers/{}/withdraw", a.offer)).status == 409);
  CHECK(staff.request("POST", "/api/v1/aftercare/999999/done").status == 404);
  CHECK(staff.request("PATCH", "/api/v1/partners/999999", R"({"name":"x"})").status == 404);
  CHECK(staff.request("POST", "/api/v1/spokespeople/999999/consents", R"({"media":["radio"],"identification":"named"})")
            .status == 404);
  // Lists under one case show that case's only.
  auto notes = staff.get("/api/v1/cases/" + a.ref + "/notes").body;
  CHECK(notes.find("Note on case a") != std::string::npos);
  CHECK(notes.find("Note on case b") == std::string::npos);
  auto coverage = w.viewer().get("/api/v1/cases/" + a.ref + "/coverage").body;
  CHECK(coverage.find("Coverage of case a") != std::string::npos);
  CHECK(coverage.find("Coverage of case b") == std::string::npos);

  // Offer links: altered by one character anywhere, the token's stored hash, another length.
  auto c = stack.client();
  const std::vector<std::string> form_type{"Content-Type: application/x-www-form-urlencoded"};
  std::vector<std::string> bad_tokens;
  for (std::size_t at : {std::size_t{0}, a.token.size() / 2, a.token.size() - 1})
    bad_tokens.push_back(changed_one_character(a.token, at));
  bad_tokens.push_back(crypto::to_hex(crypto::token_hash(a.token)));
  bad_tokens.push_back(a.token + "A");
  bad_tokens.push_back(a.token.substr(1));
  bad_tokens.push_back(percent_encoded(a.token + "' OR '1'='1"));
  for (auto& t : bad_tokens) {
    INFO(t);
    auto shown = c.get("/respond/" + t);
    CHECK(shown.status == 404);
    CHECK(shown.body.find(a.ref) == std::string::npos);
    CHECK(c.request("POST", "/respond/" + t, "action=accept", form_type).status == 404);
  }
  check_unchanged(before, fingerprint(stack), "after another case's ids and altered links");
  CHECK(offer_state(a) == "sent");
  CHECK(offer_state(b) == "sent");

  // B's link answers B's offer only; used again, or A's after staff withdrew it: 410.
  REQUIRE(c.request("POST", "/respond/" + b.token, "action=decline", form_type).status == 200);
  CHECK(offer_state(b) == "declined");
  CHECK(offer_state(a) == "sent");
  REQUIRE(staff.request("POST", fmt::format("/api/v1/cases/{}/offers/{}/withdraw", a.ref, a.offer)).status == 200);
  auto after_answers = fingerprint(stack);
  for (auto& t : {b.token, a.token}) {
    CHECK(c.get("/respond/" + t).status == 410);
    CHECK(c.request("POST", "/respond/" + t, "action=accept", form_type).status == 410);
    CHECK(c.request("POST", "/respond/" + t, "action=decline", form_type).status == 410);
  }
  check_unchanged(after_answers, fingerprint(stack), "after used and withdrawn links");
  CHECK(offer_state(a) == "withdrawn");
  CHECK(offer_state(b) == "declined");
}

TEST_CASE("a logged-out, disabled or demoted user's session cookie no longer works", "[security]") {
  auto& w = the_world();
  w.stop_worker();
  auto& stack = w.stack();
  const ids& a = w.a();
  auto note_path = "/api/v1/cases/" + a.ref + "/notes";

  auto leaving = logged_in_as(stack, "leaving@example.org", "staff");
  auto disabled = logged_in_as(stack, "disabled@example.org", "staff");
  auto demoted = logged_in_as(stack, "demoted@example.org", "staff");
  auto user_id = [](http_client& c) { return json_object_of(c.get("/api/v1/session")).at("user_id").as_int64(); };
  auto disabled_id = user_id(disabled), demoted_id = user_id(demoted);
  std::vector<std::string> left{cookie_header(leaving), csrf_header(leaving)};
  std::vector<std::string> off{cookie_header(disabled), csrf_header(disabled)};
  std::vector<std::string> lowered{cookie_header(demoted), csrf_header(demoted)};
  REQUIRE(call(stack, "GET", "/api/v1/cases", "", off).status == 200);
  REQUIRE(leaving.request("POST", "/api/v1/logout").status == 200);
  stack.database().exec("UPDATE users SET disabled_at = now() WHERE id = $1", {store::number(disabled_id)});
  stack.database().exec("UPDATE users SET role = 'viewer' WHERE id = $1", {store::number(demoted_id)});
  auto before = fingerprint(stack);

  // Logged out: the old cookie and CSRF token get 401, for reads and writes.
  CHECK(call(stack, "GET", "/api/v1/cases", "", left).status == 401);
  CHECK(call(stack, "POST", note_path, R"({"text":"after log-out"})", left).status == 401);
  // Disabled: every session of the user ends at once, and log-in is refused.
  CHECK(call(stack, "GET", "/api/v1/cases", "", off).status == 401);
  CHECK(call(stack, "POST", note_path, R"({"text":"while disabled"})", off).status == 401);
  CHECK(stack.client().log_in("disabled@example.org", "a long test password").status == 401);
  // Demoted from staff to viewer: the same session may read, no longer write.
  CHECK(call(stack, "GET", "/api/v1/cases", "", lowered).status == 200);
  CHECK(call(stack, "POST", note_path, R"({"text":"after demotion"})", lowered).status == 403);
  check_unchanged(before, fingerprint(stack), "after ended sessions");
}

// ==== 3. altered and replayed webhooks ==============================================================

TEST_CASE("webhooks altered after signing, signed outside the window or replayed are refused, nothing queued twice",
          "[security]") {
  auto& w = the_world();
  w.stop_worker();
  auto& stack = w.stack();
  auto redis = stack.redis();
  auto queued = [&] { return redis.command({"XLEN", "md:intake"})->integer; };
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto body = request_json("replay@radio.example");
  auto signature = intake::sign_body(body, stack.webhook_secret(), now_s);
  auto c = stack.client();
  auto post = [&](const std::string& b, const std::string& sig, std::vector<std::string> extra = {}) {
    extra.push_back("X-Signature: " + sig);
    return c.request("POST", "/api/v1/requests", b, extra);
  };
  auto start = queued();
  auto refused = [&](const http_result& r) {
    INFO(r.status << " " << r.body);
    CHECK(r.status == 401);
  };
  // The body altered after signing: one character, appended white space, a field added.
  refused(post(changed_one_character(body, body.find("Dana")), signature));
  refused(post(body + " ", signature));
  refused(post(body.substr(0, body.size() - 1) + R"(,"extra":"x"})", signature));
  // The header altered: another time with the same HMAC, the HMAC changed, another secret.
  refused(post(body, fmt::format("t={},v1={}", now_s + 1, signature.substr(signature.find("v1=") + 3))));
  refused(post(body, changed_one_character(signature, signature.size() - 1)));
  refused(post(body, intake::sign_body(body, "not-the-secret", now_s)));
  // Signed outside the window, either way.
  refused(post(body, intake::sign_body(body, stack.webhook_secret(), now_s - 400)));
  refused(post(body, intake::sign_body(body, stack.webhook_secret(), now_s + 400)));
  CHECK(queued() == start);

  // The same signed post twice, or with its header rewritten (parts reordered, an unknown scheme
  // added): the first intake again, nothing queued twice.
  auto first = post(body, signature);
  REQUIRE(first.status == 202);
  auto intake_id = json_string(first.body, "intake_id");
  auto v1 = signature.substr(signature.find("v1="));
  for (auto& again : {signature, v1 + fmt::format(",t={}", now_s), signature + ",v0=00", " " + signature + " "}) {
    auto replayed = post(body, again);
    INFO(again << ": " << replayed.status << " " << replayed.body);
    CHECK(replayed.status == 202);
    CHECK(json_string(replayed.body, "intake_id") == intake_id);
    CHECK(replayed.header("idempotent-replayed") == "true");
  }
  CHECK(queued() == start + 1);
  // With an Idempotency-Key the key decides: the same key is the same intake, whatever is signed.
  auto keyed = post(body, signature, {"Idempotency-Key: security-matrix-1"});
  REQUIRE(keyed.status == 202);
  CHECK(json_string(keyed.body, "intake_id") != intake_id);
  auto keyed_again = post(body, intake::sign_body(body, stack.webhook_secret(), now_s + 1), {"Idempotency-Key: security-matrix-1"});
  CHECK(json_string(keyed_again.body, "intake_id") == json_string(keyed.body, "intake_id"));
  CHECK(queued() == start + 2);
  // The same body signed at another second is another request (a newsroom may send it again).
  auto resent = post(body, intake::sign_body(body, stack.webhook_secret(), now_s - 1));
  CHECK(resent.status == 202);
  CHECK(json_string(resent.body, "intake_id") != intake_id);
  CHECK(queued() == start + 3);
}
