// Integration: the security matrix (issue 9, "Security tests"), against one real stack. Every route
// of the server's own table (cmake/route_table.cmake reads it from server/*.cpp, so a new route is
// checked here, or fails here until it is classified) is either public by design, with its own
// credential where it has one, or refuses: no session 401, no or a wrong X-CSRF-Token 403, a role
// below the route's 403, with real ids in its path so that the refusal is the handler's own, and
// nothing changed in PostgreSQL or Redis; the listed role is enough. Another case's or offer's ids (IDOR), used, altered
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
  // With the worker running, until every queued intake is stored (the worker deletes each entry
  // from the stream once its case is committed).
  void drain() {
    start_worker();
    auto redis = stack_.redis();
    REQUIRE(eventually([&] { return redis.command({"XLEN", "md:intake"})->integer == 0; }, 30s));
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
  auto hmac_changed = signature;  // another hex digit (not just its case: "a" and "A" are one value)
  hmac_changed.back() = hmac_changed.back() == '0' ? '1' : '0';
  refused(post(body, hmac_changed));
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
  // The Idempotency-Key header is not signed: the captured post sent again under a key of the
  // attacker's choosing is still the first intake.
  auto rekeyed = post(body, signature, {"Idempotency-Key: security-matrix-1"});
  CHECK(rekeyed.status == 202);
  CHECK(json_string(rekeyed.body, "intake_id") == intake_id);
  CHECK(rekeyed.header("idempotent-replayed") == "true");
  CHECK(queued() == start + 1);
  // The sender's own retry, signed again at another second under the same key: the key decides.
  auto keyed = post(body, intake::sign_body(body, stack.webhook_secret(), now_s + 1),
                    {"Idempotency-Key: security-matrix-2"});
  REQUIRE(keyed.status == 202);
  CHECK(json_string(keyed.body, "intake_id") != intake_id);
  auto keyed_again = post(body, intake::sign_body(body, stack.webhook_secret(), now_s + 2),
                          {"Idempotency-Key: security-matrix-2"});
  CHECK(json_string(keyed_again.body, "intake_id") == json_string(keyed.body, "intake_id"));
  CHECK(queued() == start + 2);
  // The same body signed at another second is another request (a newsroom may send it again).
  auto resent = post(body, intake::sign_body(body, stack.webhook_secret(), now_s - 1));
  CHECK(resent.status == 202);
  CHECK(json_string(resent.body, "intake_id") != intake_id);
  CHECK(queued() == start + 3);
}

// ==== 4. SQL-injection strings in every input ======================================================

namespace {

struct payload {
  std::string label, text;
  bool invalid_utf8 = false;
};

const std::vector<payload>& payloads() {
  static const std::vector<payload> all{
      {"or-true", "' OR '1'='1"},
      {"drop-table", "'; DROP TABLE cases; --"},
      {"pg-sleep", "1; SELECT pg_sleep(5)"},
      {"pg-sleep-concat", "'||pg_sleep(5)||'"},
      {"union", "1 UNION SELECT password_hash, email_sealed FROM users --"},
      {"backslash-quote", "\\'"},
      {"backslashes", "\\\\'); DELETE FROM users; --"},
      {"percent", "%27 OR 1=1 %00 %"},
      {"dollar-quote", "$$; TRUNCATE users; $$"},
      {"nul", std::string("a\0b'; --", 8)},
      {"controls", "a\x01\x1B[31mred\x7F'; --"},
      {"long", std::string(70'000, 'A') + "'"},
      {"unicode", "Zoë ☃ 𝕏 \u202E\u2028 ʼ OR ʼ1ʼ=ʼ1 ＇; -- 日本語 👩🏽‍💻"},
      {"invalid-utf8", "caf\xC3 \xFF'--", true},
  };
  return all;
}

// In a URL, the long string is shorter (the request line stays within the header limit).
std::string in_url(const payload& p) {
  return p.label == "long" ? std::string(3000, 'A') + "'" : p.text;
}

std::string with(std::string text, const payload& p, int n = 0) {
  for (std::string::size_type at; (at = text.find("##")) != std::string::npos;) text.replace(at, 2, std::to_string(n));
  auto value = json_text(p.text);
  for (std::string::size_type at = 0; (at = text.find("@@", at)) != std::string::npos; at += value.size())
    text.replace(at, 2, value);
  return text;
}

struct timed_result {
  http_result r;
  double seconds = 0;
};
timed_result timed(http_client& c, const std::string& method, const std::string& path, const std::string& body = {},
                   const std::vector<std::string>& headers = {}) {
  auto start = std::chrono::steady_clock::now();
  auto r = c.request(method, path, body, headers);
  return {std::move(r), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

struct tally {
  int inputs = 0, requests = 0, stored = 0;
};

using read_back = std::function<void(const payload&, const http_result&)>;

// The rule for every answer: never a 5xx or no answer, never slow (pg_sleep would take 5 s); a 400
// names `field`; another 4xx only if listed; a 2xx only where `stored` reads the value back.
void judge(tally& t, const std::string& where, const payload& p, const timed_result& a, const std::string& field,
           const read_back& stored, std::initializer_list<long> other_4xx = {}) {
  ++t.requests;
  auto& r = a.r;
  INFO(where << " <- " << p.label << ": " << r.status << " " << r.body.substr(0, 300));
  CHECK(r.status >= 200);
  CHECK(r.status < 500);
  CHECK(a.seconds < 3.0);
  if (r.status >= 200 && r.status < 400) {
    if (stored) {
      ++t.stored;
      stored(p, r);
    } else {
      FAIL_CHECK("accepted, but this input takes no such value");
    }
  } else if (r.status == 400 && !field.empty()) {
    // The field, or a field inside it ("outlet.name" for {"outlet": {"name": …}}); "$" for a body
    // that is not JSON at all (malformed UTF-8).
    auto named = field_of(r);
    CHECK((named == field || named.starts_with(field + ".") || (p.invalid_utf8 && named == "$")));
  } else if (r.status != 400) {
    CHECK(std::find(other_4xx.begin(), other_4xx.end(), r.status) != other_4xx.end());
  }
}

// The form cleans what it is sent (server/form_handlers.cpp): controls out, malformed UTF-8 as
// U+FFFD, outer white space trimmed.
std::string form_cleaned(std::string_view raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size();) {
    auto c = static_cast<unsigned char>(raw[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool valid = n > 0 && i + n <= raw.size();
    for (std::size_t k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(raw[i + k]) & 0xc0) == 0x80;
    if (!valid) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (n > 1 || (c >= 0x20 && c != 0x7f)) out.append(raw.substr(i, n));
    i += n;
  }
  auto first = out.find_first_not_of(" \t\n");
  return first == std::string::npos ? std::string{} : out.substr(first, out.find_last_not_of(" \t\n") - first + 1);
}

const json::value* at_path(const json::value& v, std::string_view path) {
  const json::value* cur = &v;
  while (cur && !path.empty()) {
    auto dot = path.find('.');
    auto name = path.substr(0, dot);
    cur = cur->is_object() ? cur->as_object().if_contains(name) : nullptr;
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  }
  return cur;
}

void check_literal(const json::value* v, const std::string& expected, const std::string& what) {
  INFO(what);
  REQUIRE(v);
  REQUIRE(v->is_string());
  CHECK(std::string(v->as_string()) == expected);
}

}  // namespace

TEST_CASE("SQL-injection strings in every input: refused naming the field, or stored literally; never 5xx or slow",
          "[security]") {
  auto& w = the_world();
  auto& stack = w.stack();
  auto& admin = w.admin();
  auto db = stack.database();
  auto started = std::chrono::steady_clock::now();
  tally t;
  auto tables = [&] {
    std::vector<std::string> out;
    auto r = db.exec("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.get(i, 0));
    return out;
  };
  auto tables_before = tables();
  auto users_before = count_rows(db, "SELECT count(*) FROM users");

  // ---- path parameters, query parameters, log-in: nothing may change --------------------------
  w.stop_worker();
  auto before = fingerprint(stack);
  const ids& x = w.a();
  for (auto& r : route_table()) {
    for (std::string name : {"{ref}", "{id}", "{consent_id}", "{token}", "*"}) {
      auto at = r.pattern.find(name == "*" ? "/*" : name);
      if (at == std::string::npos) continue;
      if (name == "*") ++at;
      ++t.inputs;
      for (auto& p : payloads()) {
        auto path = filled(r.pattern.substr(0, at), x) + "\x01" + filled(r.pattern.substr(at + name.size()), x);
        path.replace(path.find('\x01'), 1, percent_encoded(in_url(p)));
        auto answer = timed(admin, r.method(), path, body_for(r, x, w.staff_id()));
        judge(t, r.key() + " " + name, p, answer, "", nullptr, {404, 409, 410});
      }
    }
  }
  // The dashboard's files: traversal is not a file.
  for (auto traversal : {"../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd", "style.css%00.js"})
    CHECK(stack.client().get(std::string("/static/") + traversal).status == 404);

  struct query_input {
    std::string path, param;
    bool ignored = false;  // any value is allowed and changes nothing but the filter
  };
  const std::vector<query_input> queries{
      {"/api/v1/cases", "status"},       {"/api/v1/cases", "open"},         {"/api/v1/cases", "topic"},
      {"/api/v1/cases", "region"},       {"/api/v1/cases", "medium"},       {"/api/v1/cases", "assignee"},
      {"/api/v1/cases", "sort"},         {"/api/v1/cases", "limit"},        {"/api/v1/cases", "before"},
      {"/api/v1/aftercare", "state"},    {"/api/v1/reports", "from"},       {"/api/v1/reports", "to"},
      {"/api/v1/reports.csv", "from"},   {"/api/v1/reports.csv", "to"},     {"/api/v1/audit/reveals", "before"},
      {"/api/v1/audit/reveals", "before_id"}, {"/api/v1/consents/expiring", "within_days"},
      {"/api/v1/spokespeople", "partner_id"}, {"/api/v1/partners", "archived", true},
  };
  for (auto& q : queries) {
    ++t.inputs;
    for (auto& p : payloads()) {
      auto answer = timed(admin, "GET", q.path + "?" + q.param + "=" + percent_encoded(in_url(p)));
      judge(t, "GET " + q.path + "?" + q.param, p, answer, q.param,
            q.ignored ? read_back([](const payload&, const http_result&) {}) : read_back{});
    }
  }
  // The same parameter twice, and one with no value, changes nothing either.
  CHECK(admin.get("/api/v1/cases?status=new&status=" + percent_encoded("' OR '1'='1")).status == 400);

  const std::map<std::string, std::string> log_ins{
      {"email", R"({"email":@@,"password":"not the password"})"},
      {"password", fmt::format(R"({{"email":"{}","password":@@}})", test_stack::admin_email)}};
  for (auto& [field, body] : log_ins) {
    ++t.inputs;
    for (auto& p : payloads()) {
      auto c = stack.client();
      judge(t, "POST /api/v1/login " + field, p, timed(c, "POST", "/api/v1/login", with(body, p)), field, nullptr, {401});
    }
  }
  check_unchanged(before, fingerprint(stack), "after injection into paths, queries and log-in");

  // ---- the webhook and the public form: every field -------------------------------------------
  w.drain();  // what earlier tests queued while the worker was stopped is not counted here
  auto cases_before = count_rows(db, "SELECT count(*) FROM cases");
  int new_cases = 0;
  int n = 0;
  struct accepted {
    std::string intake, where, path, expected;
  };
  std::vector<accepted> to_read;
  for (std::string field : {"journalist.name", "journalist.email", "journalist.phone", "outlet", "subject", "body",
                            "deadline", "newsroom_ref"}) {
    ++t.inputs;
    for (auto& p : payloads()) {
      ++n;
      json::object doc{{"journalist", json::object{{"name", "Injection Tester"},
                                                   {"email", fmt::format("webhook-{}@inject.example", n)}}},
                       {"subject", "Injection probe"},
                       {"body", fmt::format("Injection probe {}", n)}};
      auto dot = field.find('.');
      if (dot == std::string::npos) doc[field] = "@@";
      else doc[field.substr(0, dot)].as_object()[field.substr(dot + 1)] = "@@";
      auto text = json::serialize(doc);
      text.replace(text.find("\"@@\""), 4, "@@");
      auto body = with(text, p);
      auto start = std::chrono::steady_clock::now();
      auto r = stack.post_request(body);
      timed_result answer{r, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
      judge(t, "POST /api/v1/requests " + field, p, answer, field, [&](const payload& q, const http_result& ok) {
        CHECK(ok.status == 202);
        to_read.push_back({json_string(ok.body, "intake_id"), "webhook " + field + " <- " + q.label, field, q.text});
      });
    }
  }
  const std::vector<std::string> form_type{"Content-Type: application/x-www-form-urlencoded"};
  const std::map<std::string, std::string> form_paths{{"name", "journalist.name"}, {"email", "journalist.email"},
                                                      {"phone", "journalist.phone"}, {"outlet", "outlet"},
                                                      {"subject", "subject"},        {"body", "body"}};
  std::vector<std::string> decoys;
  for (std::string field : {"name", "email", "phone", "outlet", "subject", "body", "deadline", "website"}) {
    ++t.inputs;
    for (auto& p : payloads()) {
      ++n;
      std::map<std::string, std::string> values{{"name", "Form Tester"},
                                                {"email", fmt::format("form-{}@inject.example", n)},
                                                {"body", fmt::format("Form injection probe {}", n)}};
      values[field] = p.text;
      std::string body;
      for (auto& [k, v] : values) body += (body.empty() ? "" : "&") + k + "=" + percent_encoded(v);
      auto c = stack.client();
      auto answer = timed(c, "POST", "/submit", body, form_type);
      ++t.requests;
      INFO("POST /submit " << field << " <- " << p.label << ": " << answer.r.status);
      CHECK(answer.seconds < 3.0);
      CHECK((answer.r.status == 303 || answer.r.status == 400));
      if (answer.r.status == 400) {
        CHECK(answer.r.body.find("id=\"" + field + "-error\"") != std::string::npos);
        continue;
      }
      auto location = answer.r.header("location");
      REQUIRE(location.starts_with("/submit/received/"));
      auto id = location.substr(std::string("/submit/received/").size());
      ++t.stored;
      if (field == "website") decoys.push_back(id);  // the honeypot: answered alike, nothing queued
      else if (field == "deadline") FAIL_CHECK("a deadline that is not a date was accepted");
      else to_read.push_back({id, "form " + field + " <- " + p.label, form_paths.at(field), form_cleaned(p.text)});
    }
  }
  // Each accepted request is a case whose request, revealed, holds the value exactly as sent.
  for (auto& a : to_read) {
    INFO(a.where);
    auto intake = stack.wait_for_intake(admin, a.intake);
    CHECK(json_string(intake, "status") == "processed");
    auto ref = json_string(intake, "case");
    if (ref.empty()) continue;
    ++new_cases;
    auto revealed = admin.request("POST", "/api/v1/cases/" + ref + "/reveal", R"({"reason":"injection read-back"})");
    REQUIRE(revealed.status == 200);
    check_literal(at_path(json::parse(revealed.body), "request." + a.path), a.expected, a.where + " (revealed)");
    if (a.path == "outlet") {  // triage keeps a stated outlet it does not know as it was written
      auto detail = json::parse(admin.get("/api/v1/cases/" + ref).body);
      check_literal(at_path(detail, "case.outlet.name"), a.expected, a.where + " (the case's outlet)");
    }
  }
  for (auto& id : decoys) CHECK(count_rows(db, "SELECT count(*) FROM intakes WHERE id = '" + id + "'") == 0);
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == cases_before + new_cases);

  // ---- the staff API's bodies -----------------------------------------------------------------
  auto c_ref = request_to_case(stack, admin, request_json("injection-case@radio.example")).second;
  auto partner = created_id(admin.request("POST", "/api/v1/partners",
                                          R"({"key":"inject-p","name":"Injection Partner","contact_email":"p@inject.example"})"),
                            "partner");
  auto person = created_id(admin.request("POST", "/api/v1/spokespeople",
                                         fmt::format(R"({{"alias":"Injection Speaker","partner_id":{}}})", partner)),
                           "spokesperson");
  auto c_path = "/api/v1/cases/" + c_ref;
  auto partner_path = fmt::format("/api/v1/partners/{}", partner);
  auto person_path = fmt::format("/api/v1/spokespeople/{}", person);
  std::vector<std::string> reasons, replies, evidence;

  // Read-backs.
  auto note_text = [&](const payload& p, const http_result& r) {
    auto id = json_object_of(r).at("note").at("id").as_int64();
    auto listed = json_object_of(admin.get(c_path + "/notes"));
    for (auto& note : listed.at("notes").as_array())
      if (note.at("id").as_int64() == id) return check_literal(&note.at("text"), p.text, "note");
    FAIL_CHECK("note not listed");
  };
  auto case_outlet = [&](const payload& p, const http_result& r) {
    check_literal(at_path(json::parse(r.body), "case.outlet.name"), p.text, "outlet.name");
  };
  auto coverage_field = [&](std::string name) {
    return [&, name](const payload& p, const http_result& r) {
      auto id = json_object_of(r).at("coverage").at("id").as_int64();
      auto listed = json_object_of(admin.get(c_path + "/coverage"));
      for (auto& v : listed.at("coverage").as_array())
        if (v.at("id").as_int64() == id) return check_literal(&v.at(name), p.text, "coverage " + name);
      FAIL_CHECK("coverage not listed");
    };
  };
  auto summary = [&](const payload& p, const http_result& r) {
    auto ref = std::string(json_object_of(r).at("case").at("ref").as_string());
    auto revealed = admin.request("POST", "/api/v1/cases/" + ref + "/reveal", R"({"reason":"injection read-back"})");
    check_literal(at_path(json::parse(revealed.body), "request.summary"), p.text, "summary");
  };
  auto reason = [&](const payload& p, const http_result&) { reasons.push_back(p.text); };
  auto reply = [&](const payload& p, const http_result&) { replies.push_back(p.text); };
  auto registry_field = [&](std::string kind, std::string name, bool personal) {
    return [&, kind, name, personal](const payload& p, const http_result& r) {
      auto id = json_object_of(r).at(kind).at("id").as_int64();
      auto base = fmt::format("/api/v1/{}/{}", kind == "partner" ? "partners" : "spokespeople", id);
      if (!personal)
        return check_literal(at_path(json::parse(admin.get(base).body), kind + "." + name), p.text, kind + " " + name);
      auto revealed = json::parse(admin.request("POST", base + "/reveal", R"({"reason":"injection read-back"})").body);
      auto path = kind == "partner" ? "contact." + name.substr(std::string("contact_").size()) : "personal." + name;
      check_literal(at_path(revealed, path), p.text, kind + " " + name + " (revealed)");
    };
  };
  auto consent_evidence = [&](const payload& p, const http_result&) { evidence.push_back(p.text); };

  struct body_input {
    std::string method, path, body, field;
    read_back stored;
  };
  const std::string coverage_base =
      R"("outlet_scope":"local","medium":"print","appeared_on":"2025-06-01","lived_experience_quoted":true,"tone":"balanced")";
  const std::string consent_base = R"("media":["radio"],"identification":"named")";
  std::vector<body_input> inputs{
      {"POST", c_path + "/notes", R"({"text":@@})", "text", note_text},
      {"POST", c_path + "/replies", R"({"body":@@})", "body", reply},
      {"PATCH", c_path + "/triage", R"({"outlet":{"name":@@}})", "outlet", case_outlet},
      {"PATCH", c_path + "/triage", R"({"outlet":{"name":"X","scope":@@}})", "outlet.scope", nullptr},
      {"PATCH", c_path + "/triage", R"({"topics":[@@]})", "topics", nullptr},
      {"PATCH", c_path + "/triage", R"({"regions":[@@]})", "regions", nullptr},
      {"PATCH", c_path + "/triage", R"({"medium":@@})", "medium", nullptr},
      {"PATCH", c_path + "/triage", R"({"deadline":@@})", "deadline", nullptr},
      {"PATCH", c_path + "/triage", R"({"priority":@@})", "priority", nullptr},
      {"PATCH", c_path + "/triage", R"({"needs":{"languages":[@@]}})", "needs", nullptr},
      {"PATCH", c_path + "/triage", R"({"needs":{"appearance":@@}})", "needs", nullptr},
      {"POST", c_path + "/coverage", R"({"outlet_name":@@,)" + coverage_base + "}", "outlet_name", coverage_field("outlet_name")},
      {"POST", c_path + "/coverage", R"({"outlet_name":"O","headline":@@,)" + coverage_base + "}", "headline",
       coverage_field("headline")},
      {"POST", c_path + "/coverage", R"({"outlet_name":"O","link":@@,)" + coverage_base + "}", "link", nullptr},
      {"POST", c_path + "/coverage",
       R"({"outlet_name":"O","outlet_scope":@@,"medium":"print","appeared_on":"2025-06-01","lived_experience_quoted":true,"tone":"balanced"})",
       "outlet_scope", nullptr},
      {"POST", c_path + "/coverage",
       R"({"outlet_name":"O","outlet_scope":"local","medium":@@,"appeared_on":"2025-06-01","lived_experience_quoted":true,"tone":"balanced"})",
       "medium", nullptr},
      {"POST", c_path + "/coverage",
       R"({"outlet_name":"O","outlet_scope":"local","medium":"print","appeared_on":@@,"lived_experience_quoted":true,"tone":"balanced"})",
       "appeared_on", nullptr},
      {"POST", c_path + "/coverage",
       R"({"outlet_name":"O","outlet_scope":"local","medium":"print","appeared_on":"2025-06-01","lived_experience_quoted":true,"tone":@@})",
       "tone", nullptr},
      {"POST", c_path + "/coverage", R"({"outlet_name":"O","spokesperson_id":@@,)" + coverage_base + "}",
       "spokesperson_id", nullptr},
      {"POST", "/api/v1/cases", R"({"summary":@@})", "summary", summary},
      {"POST", "/api/v1/cases", R"({"summary":"pitch","outlet":{"name":@@}})", "outlet", case_outlet},
      {"PUT", c_path + "/assignee", R"({"user_id":@@})", "user_id", nullptr},
      {"POST", c_path + "/status", R"({"status":@@})", "status", nullptr},
      {"PUT", c_path + "/waterfall", R"({"on":@@})", "on", nullptr},
      {"POST", c_path + "/offers", R"({"partner_id":@@})", "partner_id", nullptr},
      {"POST", c_path + "/offers", fmt::format(R"({{"partner_id":{},"spokesperson_id":@@}})", partner), "spokesperson_id",
       nullptr},
      {"POST", c_path + "/offers", fmt::format(R"({{"partner_id":{},"expires_in_minutes":@@}})", partner),
       "expires_in_minutes", nullptr},
      {"POST", c_path + "/reveal", R"({"reason":@@})", "reason", reason},
      {"POST", partner_path + "/reveal", R"({"reason":@@})", "reason", reason},
      {"POST", person_path + "/reveal", R"({"reason":@@})", "reason", reason},
      {"POST", person_path + "/export", R"({"reason":@@})", "reason", reason},
      {"POST", "/api/v1/journalists/export", R"({"email":"nobody@inject.example","reason":@@})", "reason", reason},
      {"POST", "/api/v1/journalists/export", R"({"email":@@,"reason":"r"})", "email", nullptr},
      {"POST", "/api/v1/journalists/erase", R"({"email":@@,"reason":"r"})", "email", nullptr},
      {"POST", "/api/v1/partners", R"({"key":@@,"name":"N","contact_email":"p##@inject.example"})", "key", registry_field("partner", "key", false)},
      {"POST", "/api/v1/partners", R"({"key":"k##","name":@@,"contact_email":"p##@inject.example"})", "name",
       registry_field("partner", "name", false)},
      {"POST", "/api/v1/partners", R"({"key":"k##","name":"N","contact_name":@@,"contact_email":"p##@inject.example"})",
       "contact_name", registry_field("partner", "contact_name", true)},
      {"POST", "/api/v1/partners", R"({"key":"k##","name":"N","contact_email":@@})", "contact_email",
       registry_field("partner", "contact_email", true)},
      {"POST", "/api/v1/partners", R"({"key":"k##","name":"N","contact_email":"p##@inject.example","regions":[@@]})",
       "regions", nullptr},
      {"POST", "/api/v1/partners", R"({"key":"k##","name":"N","contact_email":"p##@inject.example","topics":[@@]})",
       "topics", nullptr},
      {"POST", "/api/v1/partners", R"({"key":"k##","name":"N","contact_email":"p##@inject.example","languages":[@@]})",
       "languages", nullptr},
      {"POST", "/api/v1/partners", R"({"key":"k##","name":"N","contact_email":"p##@inject.example","away_until":@@})",
       "away_until", nullptr},
      {"POST", "/api/v1/partners", R"({"key":"k##","name":"N","contact_email":"p##@inject.example","capacity":@@})",
       "capacity", nullptr},
      {"PATCH", partner_path, R"({"name":@@})", "name", registry_field("partner", "name", false)},
      {"PATCH", partner_path, R"({"key":@@})", "key", registry_field("partner", "key", false)},
      {"POST", "/api/v1/spokespeople", R"({"alias":@@})", "alias", registry_field("spokesperson", "alias", false)},
      {"POST", "/api/v1/spokespeople", R"({"alias":"A","key":@@})", "key", registry_field("spokesperson", "key", false)},
      {"POST", "/api/v1/spokespeople", R"({"alias":"A","full_name":@@})", "full_name",
       registry_field("spokesperson", "full_name", true)},
      {"POST", "/api/v1/spokespeople", R"({"alias":"A","email":@@})", "email", registry_field("spokesperson", "email", true)},
      {"POST", "/api/v1/spokespeople", R"({"alias":"A","phone":@@})", "phone", registry_field("spokesperson", "phone", true)},
      {"POST", "/api/v1/spokespeople", R"({"alias":"A","story_notes":@@})", "story_notes",
       registry_field("spokesperson", "story_notes", true)},
      {"POST", "/api/v1/spokespeople", R"({"alias":"A","regions":[@@]})", "regions", nullptr},
      {"POST", "/api/v1/spokespeople", R"({"alias":"A","topics":[@@]})", "topics", nullptr},
      {"POST", "/api/v1/spokespeople", R"({"alias":"A","languages":[@@]})", "languages", nullptr},
      {"POST", "/api/v1/spokespeople", R"({"alias":"A","max_per_month":@@})", "max_per_month", nullptr},
      {"POST", "/api/v1/spokespeople", R"({"alias":"A","partner_id":@@})", "partner_id", nullptr},
      {"PATCH", person_path, R"({"alias":@@})", "alias", registry_field("spokesperson", "alias", false)},
      {"POST", person_path + "/consents", R"({"media":[@@],"identification":"named"})", "media", nullptr},
      {"POST", person_path + "/consents", R"({"media":["radio"],"identification":@@})", "identification", nullptr},
      {"POST", person_path + "/consents", "{" + consent_base + R"(,"topics":[@@]})", "topics", nullptr},
      {"POST", person_path + "/consents", "{" + consent_base + R"(,"excluded_outlets":[@@]})", "excluded_outlets", nullptr},
      {"POST", person_path + "/consents", "{" + consent_base + R"(,"granted_at":@@})", "granted_at", nullptr},
      {"POST", person_path + "/consents", "{" + consent_base + R"(,"expires_at":@@})", "expires_at", nullptr},
      {"POST", person_path + "/consents", "{" + consent_base + R"(,"evidence":@@})", "evidence", consent_evidence},
  };
  for (auto& in : inputs) {
    ++t.inputs;
    for (auto& p : payloads()) {
      ++n;
      auto answer = timed(admin, in.method, in.path, with(in.body, p, n));
      judge(t, in.method + " " + in.path + " " + in.field, p, answer, in.field, in.stored, {409});
    }
  }
  // A payload as a field's name: the unknown field is named as it was sent.
  ++t.inputs;
  for (auto& p : payloads()) {
    auto body = R"({"key":"kx","name":"N","contact_email":"px@inject.example",)" + json_text(p.text) + R"(:"x"})";
    // A name holding U+0000 is not repeated: "$".
    auto field = p.text.find('\0') == std::string::npos ? p.text : "$";
    judge(t, "POST /api/v1/partners (a field's name)", p, timed(admin, "POST", "/api/v1/partners", body), field, nullptr);
  }

  // What was stored sealed, read back where it shows: reasons in the audit, replies in the
  // journalist's export, consent evidence in the spokesperson's.
  auto audit = json::serialize(json::parse(admin.get("/api/v1/audit/reveals").body));
  for (auto& r : reasons) {
    INFO("reveal reason " << r.substr(0, 80));
    CHECK(audit.find(json_text(r)) != std::string::npos);
  }
  auto exported = json::serialize(json::parse(
      admin.request("POST", "/api/v1/journalists/export", R"({"email":"injection-case@radio.example","reason":"read-back"})")
          .body));
  for (auto& r : replies) {
    INFO("reply " << r.substr(0, 80));
    CHECK(exported.find(json_text(r)) != std::string::npos);
  }
  auto person_export = json::serialize(
      json::parse(admin.request("POST", person_path + "/export", R"({"reason":"read-back"})").body));
  for (auto& e : evidence) {
    INFO("evidence " << e.substr(0, 80));
    CHECK(person_export.find(json_text(e)) != std::string::npos);
  }

  // The schema is as it was: every table there, no user added or lost.
  CHECK(tables() == tables_before);
  CHECK(count_rows(db, "SELECT count(*) FROM users") == users_before);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("injection: {} payloads into {} inputs, {} requests, {} stored and read back, {:.1f} s\n", payloads().size(),
             t.inputs, t.requests, t.stored, seconds);
}

// ==== 5. markup: data in the API, escaped in every page the server renders ==========================

namespace {

const std::string img_markup = "<img src=x onerror=alert(1)>";
const std::string script_markup = "<script>alert(1)</script>";
const std::string svg_markup = "<svg onload=alert(1)>";

// A page rendered by the server: the markup only escaped, and a policy that runs no inline script.
void check_escaped_page(const http_result& page, const std::vector<std::string>& shown, const std::string& what) {
  INFO(what << ": " << page.status << "\n" << page.body.substr(0, 2000));
  CHECK(page.header("content-type").starts_with("text/html"));
  auto policy = page.header("content-security-policy");
  CHECK(policy.find("script-src 'self'") != std::string::npos);
  CHECK(policy.find("unsafe-inline") == std::string::npos);
  CHECK(policy.find("unsafe-eval") == std::string::npos);
  CHECK(page.header("x-content-type-options") == "nosniff");
  for (auto raw : {img_markup, script_markup, svg_markup, std::string("\"><img"), std::string("onerror=alert(1)>")})
    CHECK(page.body.find(raw) == std::string::npos);
  for (auto& s : shown) {
    // Escaped here by the test's own table, not by server::html_escape: the oracle of a test of
    // escaping should not be the code under test.
    std::string escaped;
    for (char c : s) {
      switch (c) {
        case '&': escaped += "&amp;"; break;
        case '<': escaped += "&lt;"; break;
        case '>': escaped += "&gt;"; break;
        case '"': escaped += "&quot;"; break;
        case '\'': escaped += "&#39;"; break;
        default: escaped += c;
      }
    }
    INFO("shown escaped: " << escaped);
    CHECK(page.body.find(escaped) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("markup in a request or the registry is data in the API and escaped in the pages the server renders",
          "[security]") {
  auto& w = the_world();
  w.start_worker();
  auto& stack = w.stack();
  auto& staff = w.staff();

  // A request full of markup becomes a case; the API gives every value back as it was, as JSON.
  auto outlet = img_markup + script_markup;
  auto subject = "Markup probe " + script_markup;
  auto body = "Please see <a href=\"javascript:alert(1)\">this link</a> and " + img_markup + " javascript:alert(2)";
  auto ref = request_to_case(
      stack, w.admin(),
      json::serialize(json::object{{"journalist", json::object{{"name", svg_markup}, {"email", "markup@radio.example"}}},
                                   {"outlet", outlet},
                                   {"subject", subject},
                                   {"body", body}})).second;
  auto detail = staff.get("/api/v1/cases/" + ref);
  CHECK(detail.header("content-type") == "application/json");
  CHECK(detail.header("x-content-type-options") == "nosniff");
  CHECK(json_object_of(detail).at("case").at("outlet").at("name").as_string() == outlet);
  auto revealed = json_object_of(staff.request("POST", "/api/v1/cases/" + ref + "/reveal", R"({"reason":"markup"})"));
  CHECK(revealed.at("request").at("subject").as_string() == subject);
  CHECK(revealed.at("request").at("body").as_string() == body);
  CHECK(revealed.at("request").at("journalist").at("name").as_string() == svg_markup);
  auto note = "Called back: " + script_markup;
  REQUIRE(staff.request("POST", "/api/v1/cases/" + ref + "/notes", json::serialize(json::object{{"text", note}})).status ==
          201);
  CHECK(json_object_of(staff.get("/api/v1/cases/" + ref + "/notes")).at("notes").at(0).at("text").as_string() == note);

  // Links the dashboard shows as links are web addresses only.
  for (auto link : {"javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
                    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "//evil.example/x",
                    "https:alert(1)", "file:///etc/passwd"}) {
    auto r = staff.request("POST", "/api/v1/cases/" + ref + "/coverage",
                           json::serialize(json::object{{"outlet_name", "O"}, {"outlet_scope", "local"}, {"medium", "print"},
                                                        {"appeared_on", "2025-06-01"}, {"lived_experience_quoted", false},
                                                        {"tone", "balanced"}, {"link", link}}));
    INFO(link);
    CHECK(r.status == 400);
    CHECK(field_of(r) == "link");
  }

  // The partner's offer page shows the case's outlet, the partner's name and the alias: escaped.
  auto partner_name = "Forum " + img_markup;
  auto alias = "Speaker <script>alert('alias')</script>";
  auto partner = created_id(staff.request("POST", "/api/v1/partners",
                                          json::serialize(json::object{{"key", "markup-forum"},
                                                                       {"name", partner_name},
                                                                       {"contact_email", "contact@markup.example.org"},
                                                                       {"regions", json::array{"newcastle"}},
                                                                       {"topics", json::array{"asylum_process"}}})),
                            "partner");
  CHECK(json_object_of(staff.get(fmt::format("/api/v1/partners/{}", partner))).at("partner").at("name").as_string() ==
        partner_name);
  auto person = created_id(staff.request("POST", "/api/v1/spokespeople",
                                         json::serialize(json::object{{"partner_id", partner},
                                                                      {"alias", alias},
                                                                      {"regions", json::array{"newcastle"}},
                                                                      {"topics", json::array{"asylum_process"}}})),
                           "spokesperson");
  created_id(staff.request("POST", fmt::format("/api/v1/spokespeople/{}/consents", person),
                           R"({"media":["radio"],"identification":"first_name","topics":["asylum_process"]})"),
             "consent");
  REQUIRE(staff.request("PATCH", "/api/v1/cases/" + ref + "/triage",
                        R"({"topics":["asylum_process"],"regions":["newcastle"],"medium":"radio"})")
              .status == 200);
  created_id(staff.request("POST", "/api/v1/cases/" + ref + "/offers",
                           fmt::format(R"({{"partner_id":{},"spokesperson_id":{}}})", partner, person)),
             "offer");
  auto token = wait_for_token(w.maildir(), "contact@markup.example.org", ref);
  auto c = stack.client();
  auto offer_page = c.get("/respond/" + token);
  CHECK(offer_page.status == 200);
  check_escaped_page(offer_page, {outlet, partner_name, alias}, "the offer page");

  // The form: what was typed comes back escaped, in the page and in its attributes.
  const std::vector<std::string> form_type{"Content-Type: application/x-www-form-urlencoded"};
  auto typed_email = "\"><img src=x onerror=alert(1)>";
  auto form_body = "name=" + percent_encoded(script_markup) + "&email=" + percent_encoded(typed_email) +
                   "&outlet=" + percent_encoded(img_markup) + "&subject=" + percent_encoded(svg_markup) +
                   "&body=" + percent_encoded(body);
  auto refused = c.request("POST", "/submit", form_body, form_type);
  CHECK(refused.status == 400);
  check_escaped_page(refused, {script_markup, typed_email, img_markup, svg_markup}, "the form with an error");
  // The notice page (over the rate limit) shows the form again under it: escaped too.
  auto limited = stack.start("serve", [&] {
    auto env = w.env();
    env["MEDIADESK_INBOUND_FORM_SUBMISSIONS_PER_IP_PER_HOUR"] = "1";
    return env;
  }());
  http_client second("http://127.0.0.1:" + std::to_string(stack.http_port(limited)));
  auto valid = "name=" + percent_encoded(script_markup) + "&email=markup-form%40radio.example&outlet=" +
               percent_encoded(img_markup) + "&body=" + percent_encoded(body);
  http_result notice;
  for (int i = 0; i < 3 && notice.status != 429; ++i) notice = second.request("POST", "/submit", valid, form_type);
  CHECK(notice.status == 429);
  check_escaped_page(notice, {script_markup, img_markup}, "the form's rate-limit notice");
  stack.kill(limited, SIGTERM);
  CHECK(stack.wait_exit(limited, 20s) == 0);
  // Pages for a path full of markup say nothing of it.
  for (auto path : {"/submit/received/", "/respond/"}) {
    auto page = c.get(path + percent_encoded(script_markup));
    CHECK(page.status == 404);
    check_escaped_page(page, {}, path);
  }
  check_escaped_page(c.get("/"), {}, "the dashboard's shell");
}

// ==== 6. the least role each route names is enough =================================================

TEST_CASE("with the least role the matrix names, every staff route does its work (the role list is exact)",
          "[security]") {
  auto& w = the_world();
  w.stop_worker();
  auto& staff = w.staff();
  // Data of its own, since these calls change it: a proactive case with an offer and coverage.
  ids v;
  v.intake = w.a().intake;
  v.ref = std::string(json_object_of(staff.request("POST", "/api/v1/cases",
                                                   R"({"summary":"role check","topics":["asylum_process"],)"
                                                   R"("regions":["newcastle"],"medium":"radio"})"))
                          .at("case")
                          .at("ref")
                          .as_string());
  v.partner = created_id(staff.request("POST", "/api/v1/partners",
                                       R"({"key":"roles","name":"Roles","contact_email":"roles@partner.example",)"
                                       R"("regions":["newcastle"],"topics":["asylum_process"]})"),
                         "partner");
  v.spokesperson = created_id(staff.request("POST", "/api/v1/spokespeople",
                                            fmt::format(R"({{"alias":"Role Speaker","partner_id":{},"regions":["newcastle"],)"
                                                        R"("topics":["asylum_process"]}})",
                                                        v.partner)),
                              "spokesperson");
  v.consent = created_id(staff.request("POST", fmt::format("/api/v1/spokespeople/{}/consents", v.spokesperson),
                                       R"({"media":["radio"],"identification":"named","topics":["asylum_process"]})"),
                         "consent");
  v.offer = created_id(staff.request("POST", "/api/v1/cases/" + v.ref + "/offers",
                                     fmt::format(R"({{"partner_id":{},"spokesperson_id":{}}})", v.partner, v.spokesperson)),
                       "offer");
  auto coverage = staff.request("POST", "/api/v1/cases/" + v.ref + "/coverage",
                                fmt::format(R"({{"outlet_name":"O","outlet_scope":"local","medium":"radio",)"
                                            R"("appeared_on":"2025-06-01","lived_experience_quoted":true,"tone":"balanced",)"
                                            R"("spokesperson_id":{}}})",
                                            v.spokesperson));
  REQUIRE(coverage.status == 201);
  v.aftercare = json_object_of(coverage).at("aftercare").at("id").as_int64();

  // Deletions and log-out last: the rest still find what they work on.
  std::vector<route> order;
  for (auto& r : route_table())
    if (required_role.contains(r.key()) && r.pattern != "/api/v1/events") order.push_back(r);
  std::stable_partition(order.begin(), order.end(), [](const route& r) {
    return r.verb != http::verb::delete_ && r.pattern != "/api/v1/logout" && r.pattern != "/api/v1/journalists/erase";
  });
  int done = 0;
  for (auto& r : order) {
    auto needed = required_role.at(r.key());
    auto path = filled(r.pattern, v);
    auto body = body_for(r, v, w.staff_id());
    // Log-out ends the session it is called with: a session of its own.
    auto own = r.pattern == "/api/v1/logout" ? logged_in_as(w.stack(), "viewer@example.org", "viewer") : http_client("");
    auto& who = r.pattern == "/api/v1/logout" ? own : w.role(needed);
    auto answer = who.request(r.method(), path, body);
    INFO(r.key() << " as " << name_of(needed) << ": " << answer.status << " " << answer.body.substr(0, 300));
    CHECK(answer.status != 401);
    CHECK(answer.status != 403);
    CHECK(answer.status < 500);
    if (answer.status >= 200 && answer.status < 300) ++done;
  }
  fmt::print("least role: {} staff routes called with the role they name, {} answered 2xx\n", order.size(), done);
  CHECK(done * 10 >= static_cast<int>(order.size()) * 8);  // most do their work, not just pass the check
}
