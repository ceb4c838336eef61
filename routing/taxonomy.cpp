// Taxonomy parsing and compilation (see taxonomy.hpp). Every problem names its file and line.
#include "routing/taxonomy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <toml++/toml.h>

namespace md::routing {
namespace {

[[noreturn]] void fail(std::string_view file, const toml::node* node, std::string_view message) {
  if (node && node->source().begin.line)
    throw std::runtime_error(fmt::format("{} line {}: {}", file, node->source().begin.line, message));
  throw std::runtime_error(fmt::format("{}: {}", file, message));
}

// Reads one TOML table, refusing keys it was not asked about: a misspelt key is an error, not
// a silently ignored setting.
class table_reader {
 public:
  table_reader(std::string_view file, const toml::table& table) : file_(file), table_(table) {}

  std::string text(std::string_view key, bool required = true) {
    auto* node = get(key);
    if (!node) {
      if (required) fail(file_, &table_, fmt::format("'{}' is missing", key));
      return {};
    }
    if (!node->is_string()) fail(file_, node, fmt::format("'{}' must be a string", key));
    return *node->value<std::string>();
  }
  double number(std::string_view key, double fallback, double min, double max) {
    auto* node = get(key);
    if (!node) return fallback;
    if (!node->is_number()) fail(file_, node, fmt::format("'{}' must be a number", key));
    double v = *node->value<double>();
    if (v < min || v > max) fail(file_, node, fmt::format("'{}' must be between {} and {}", key, min, max));
    return v;
  }
  bool flag(std::string_view key, bool fallback) {
    auto* node = get(key);
    if (!node) return fallback;
    if (!node->is_boolean()) fail(file_, node, fmt::format("'{}' must be true or false", key));
    return *node->value<bool>();
  }
  std::vector<std::string> texts(std::string_view key) {
    std::vector<std::string> out;
    auto* node = get(key);
    if (!node) return out;
    auto* array = node->as_array();
    if (!array) fail(file_, node, fmt::format("'{}' must be a list of strings", key));
    for (auto& item : *array) {
      if (!item.is_string()) fail(file_, &item, fmt::format("'{}' must be a list of strings", key));
      out.push_back(*item.value<std::string>());
    }
    return out;
  }
  const toml::table* table(std::string_view key) {
    auto* node = get(key);
    if (!node) return nullptr;
    if (!node->is_table()) fail(file_, node, fmt::format("'{}' must be a table", key));
    return node->as_table();
  }
  const toml::array* array(std::string_view key) {
    auto* node = get(key);
    if (!node) return nullptr;
    if (!node->is_array()) fail(file_, node, fmt::format("'{}' must be a list", key));
    return node->as_array();
  }
  // Call when done: any key not read is unknown.
  void finish() const {
    for (auto&& [key, node] : table_)
      if (!used_.contains(std::string(key.str()))) fail(file_, &node, fmt::format("unknown key '{}'", key.str()));
  }

 private:
  const toml::node* get(std::string_view key) {
    used_.insert(std::string(key));
    return table_.get(key);
  }
  std::string_view file_;
  const toml::table& table_;
  std::set<std::string> used_;
};

// Each [[name]] entry of a file, as a table.
template <typename F>
void for_each_entry(std::string_view file, const toml::table& root, std::string_view name, F&& f) {
  table_reader top(file, root);
  auto* entries = top.array(name);
  top.finish();
  if (!entries || entries->empty()) fail(file, &root, fmt::format("no [[{}]] entries", name));
  for (auto& entry : *entries) {
    auto* table = entry.as_table();
    if (!table) fail(file, &entry, fmt::format("each {} must be a table ([[{}]])", name, name));
    table_reader reader(file, *table);
    f(reader, *table);
    reader.finish();
  }
}

void add_term(term_matcher& matcher, std::string_view file, const toml::node& where, std::string_view term,
              std::uint32_t target, bool case_sensitive = false) {
  if (!matcher.add(term, target, case_sensitive))
    fail(file, &where, fmt::format("'{}' is not a valid term (lowercase words, single spaces, optional trailing *)", term));
}

// A name as written ("Yarl's Wood", "BBC Radio 4") as a term: folded the way text is, the
// possessive kept as a plain s.
std::string name_as_term(std::string_view name) {
  word_list words(name);
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i) out += ' ';
    out += words.word(i);
    if (words.possessive(i)) out += 's';  // "Yarl's Wood" is the term "yarls wood"
  }
  return out;
}

bool one_of(std::string_view value, std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed)
    if (value == a) return true;
  return false;
}

}  // namespace

struct taxonomy_builder {
  taxonomy& t;

  void topics(std::string_view file, const toml::table& root) {
    for_each_entry(file, root, "topic", [&](table_reader& r, const toml::table& table) {
      topic_definition d;
      d.id = r.text("id");
      d.label = r.text("label");
      d.weight = r.number("weight", 0.5, 0, 1);
      auto index = static_cast<std::uint32_t>(t.topics.size());
      if (!t.topic_index_.emplace(d.id, index).second) fail(file, &table, fmt::format("topic '{}' is defined twice", d.id));
      for (auto& term : r.texts("strong")) add_term(t.topic_strong, file, table, term, index);
      for (auto& term : r.texts("keywords")) add_term(t.topic_keywords, file, table, term, index);
      t.topics.push_back(std::move(d));
    });
    for (auto id : taxonomy::required_topics)
      if (!t.topic_index_.contains(id)) fail(file, nullptr, fmt::format("the required topic '{}' is missing", id));
  }

  void regions(std::string_view file, const toml::table& root) {
    std::vector<std::string> parents;
    std::vector<std::vector<std::string>> aliases;
    std::vector<bool> case_sensitive;
    std::vector<const toml::table*> where;
    for_each_entry(file, root, "region", [&](table_reader& r, const toml::table& table) {
      region_definition d;
      d.id = r.text("id");
      d.name = r.text("name");
      d.level = r.text("level");
      if (!one_of(d.level, {"country", "region", "county", "city", "town", "area"}))
        fail(file, &table, fmt::format("region '{}': level must be country, region, county, city, town or area", d.id));
      parents.push_back(r.text("parent", false));
      aliases.push_back(r.texts("aliases"));
      case_sensitive.push_back(r.flag("case_sensitive", false));
      d.neighbours = r.texts("neighbours");
      if (!t.region_index_.emplace(d.id, t.regions.size()).second)
        fail(file, &table, fmt::format("region '{}' is defined twice", d.id));
      where.push_back(&table);
      t.regions.push_back(std::move(d));
    });
    for (std::size_t i = 0; i < t.regions.size(); ++i) {
      auto& d = t.regions[i];
      if (!parents[i].empty()) {
        auto parent = t.find_region(parents[i]);
        if (!parent) fail(file, where[i], fmt::format("region '{}': unknown parent '{}'", d.id, parents[i]));
        d.parent = static_cast<int>(*parent);
      }
      for (auto& n : d.neighbours)
        if (!t.find_region(n)) fail(file, where[i], fmt::format("region '{}': unknown neighbour '{}'", d.id, n));
    }
    for (std::size_t i = 0; i < t.regions.size(); ++i) {
      // Walk up to the region-level ancestor; a walk longer than the table is a cycle.
      int at = static_cast<int>(i);
      for (std::size_t steps = 0; at >= 0; ++steps) {
        if (steps > t.regions.size()) fail(file, where[i], fmt::format("region '{}': its parents form a cycle", t.regions[i].id));
        if (t.regions[at].level == "region") break;
        at = t.regions[at].parent;
      }
      t.regions[i].region_level = at;
      auto target = static_cast<std::uint32_t>(i);
      add_term(t.region_names, file, *where[i], name_as_term(t.regions[i].name), target, case_sensitive[i]);
      for (auto& alias : aliases[i]) add_term(t.region_names, file, *where[i], alias, target, case_sensitive[i]);
    }
    for (auto id : taxonomy::required_regions) {
      auto r = t.find_region(id);
      if (!r || t.regions[*r].level != "region")
        fail(file, nullptr, fmt::format("the required region '{}' is missing or not at level \"region\"", id));
    }
  }

  void outlets(std::string_view file, const toml::table& root) {
    std::vector<std::pair<std::size_t, std::string>> part_of;
    for_each_entry(file, root, "outlet", [&](table_reader& r, const toml::table& table) {
      if (auto umbrella = r.text("part_of", false); !umbrella.empty()) part_of.emplace_back(t.outlets.size(), umbrella);
      outlet_definition d;
      d.name = r.text("name");
      d.scope = r.text("scope");
      d.medium = r.text("medium");
      if (!one_of(d.scope, {"national", "local", "international"}))
        fail(file, &table, fmt::format("outlet '{}': scope must be national, local or international", d.name));
      if (!one_of(d.medium, {"tv", "radio", "print", "online", "podcast"}))
        fail(file, &table, fmt::format("outlet '{}': medium must be tv, radio, print, online or podcast", d.name));
      if (auto region = r.text("region", false); !region.empty()) {
        auto index = t.find_region(region);
        if (!index) fail(file, &table, fmt::format("outlet '{}': unknown region '{}'", d.name, region));
        d.region = static_cast<int>(*index);
      }
      bool case_sensitive = r.flag("case_sensitive", false);
      auto index = static_cast<std::uint32_t>(t.outlets.size());
      if (!t.outlet_index_.emplace(d.name, index).second) fail(file, &table, fmt::format("outlet '{}' is defined twice", d.name));
      d.domains = r.texts("domains");
      for (auto& domain : d.domains)
        if (!t.domain_index_.emplace(domain, index).second)
          fail(file, &table, fmt::format("outlet '{}': the domain '{}' belongs to another outlet", d.name, domain));
      add_term(t.outlet_names, file, table, name_as_term(d.name), index, case_sensitive);
      for (auto& alias : r.texts("aliases")) add_term(t.outlet_names, file, table, alias, index, case_sensitive);
      t.outlets.push_back(std::move(d));
    });
    for (auto& [index, umbrella] : part_of) {
      auto found = t.find_outlet(umbrella);
      if (!found) fail(file, &root, fmt::format("outlet '{}': part_of names no outlet ('{}')", t.outlets[index].name, umbrella));
      t.outlets[index].part_of = static_cast<int>(*found);
    }
  }

  void languages(std::string_view file, const toml::table& root) {
    for_each_entry(file, root, "language", [&](table_reader& r, const toml::table& table) {
      language_definition d;
      d.id = r.text("id");
      d.label = r.text("label");
      auto index = static_cast<std::uint32_t>(t.languages.size());
      // Spokespeople's language skills are stored by id, so an id must name one language.
      if (!t.language_index_.emplace(d.id, index).second)
        fail(file, &table, fmt::format("language '{}' is defined twice", d.id));
      add_term(t.language_names, file, table, name_as_term(d.label), index);
      for (auto& alias : r.texts("aliases")) add_term(t.language_names, file, table, alias, index);
      t.languages.push_back(std::move(d));
    });
  }

  void cues(std::string_view file, const toml::table& root) {
    table_reader top(file, root);
    auto section = [&](std::string_view name, std::initializer_list<std::pair<std::string_view, cue>> lists) {
      auto* table = top.table(name);
      if (!table) fail(file, &root, fmt::format("the [{}] section is missing", name));
      table_reader r(file, *table);
      for (auto [key, which] : lists) {
        auto terms = r.texts(key);
        if (terms.empty()) fail(file, table, fmt::format("[{}] {} has no terms", name, key));
        for (auto& term : terms) add_term(t.cues, file, *table, term, static_cast<std::uint32_t>(which));
      }
      r.finish();
    };
    section("medium", {{"tv", cue::tv}, {"radio", cue::radio}, {"print", cue::print}, {"online", cue::online},
                       {"podcast", cue::podcast}});
    section("needs", {{"lived_experience", cue::lived_experience}, {"expert", cue::expert}, {"on_camera", cue::on_camera},
                      {"voice_only", cue::voice_only}, {"named", cue::named}, {"anonymous", cue::anonymous},
                      {"language_request", cue::language_request}, {"urgency", cue::urgency},
                      {"negation", cue::negation}});
    top.finish();
  }

  void priority(std::string_view file, const toml::table& root) {
    auto& p = t.priority;
    table_reader top(file, root);
    auto section = [&](std::string_view name) -> table_reader {
      auto* table = top.table(name);
      if (!table) fail(file, &root, fmt::format("the [{}] section is missing", name));
      return table_reader(file, *table);
    };
    auto points = section("points");
    p.time_points = points.number("time", p.time_points, 0, 100);
    p.reach_points = points.number("reach", p.reach_points, 0, 100);
    p.topic_points = points.number("topic", p.topic_points, 0, 100);
    points.finish();
    if (p.time_points + p.reach_points + p.topic_points > 100.0001)
      fail(file, &root, "[points] time + reach + topic must not exceed 100");
    auto reach = section("reach");
    for (auto& [scope, share] : p.reach_share) share = reach.number(scope, share, 0, 1);
    reach.finish();
    auto time = section("time");
    if (auto* steps = time.array("steps")) {
      p.time_steps.clear();
      for (auto& step : *steps) {
        auto* pair = step.as_array();
        if (!pair || pair->size() != 2 || !(*pair)[0].is_number() || !(*pair)[1].is_number())
          fail(file, &step, "each time step must be [hours, share]");
        double hours = *(*pair)[0].value<double>(), share = *(*pair)[1].value<double>();
        if (share < 0 || share > 1 || hours <= 0 || (!p.time_steps.empty() && hours <= p.time_steps.back().first))
          fail(file, &step, "time steps need increasing hours and a share between 0 and 1");
        p.time_steps.emplace_back(hours, share);
      }
    }
    p.time_share_later = time.number("later", p.time_share_later, 0, 1);
    p.time_share_no_deadline = time.number("no_deadline", p.time_share_no_deadline, 0, 1);
    p.time_share_urgent_words = time.number("no_deadline_urgent_words", p.time_share_urgent_words, 0, 1);
    time.finish();
    auto levels = section("levels");
    p.urgent_from = static_cast<int>(levels.number("urgent_from", p.urgent_from, 0, 100));
    p.high_from = static_cast<int>(levels.number("high_from", p.high_from, 0, 100));
    p.normal_from = static_cast<int>(levels.number("normal_from", p.normal_from, 0, 100));
    levels.finish();
    if (!(p.urgent_from > p.high_from && p.high_from > p.normal_from))
      fail(file, &root, "[levels] needs urgent_from > high_from > normal_from");
    auto target = section("target");
    p.target_share = target.number("share_of_time_to_deadline", p.target_share, 0.05, 1);
    p.target_hours_without_deadline = target.number("hours_without_deadline", p.target_hours_without_deadline, 0.25, 24 * 14);
    target.finish();
    top.finish();
  }
};

std::shared_ptr<const taxonomy> taxonomy::parse(std::span<const embedded_file> files) {
  auto result = std::make_shared<taxonomy>();
  taxonomy_builder builder{*result};
  // Regions before outlets (outlets name their region); each file parsed once, in this order.
  const std::pair<std::string_view, void (taxonomy_builder::*)(std::string_view, const toml::table&)> order[] = {
      {"topics.toml", &taxonomy_builder::topics},       {"regions.toml", &taxonomy_builder::regions},
      {"outlets.toml", &taxonomy_builder::outlets},     {"languages.toml", &taxonomy_builder::languages},
      {"cues.toml", &taxonomy_builder::cues},           {"priority.toml", &taxonomy_builder::priority}};
  for (auto& [name, parse_one] : order) {
    // [&name = name]: clang before 16 cannot capture a structured binding (the fuzz build uses clang 14).
    auto file = std::find_if(files.begin(), files.end(), [&name = name](const embedded_file& f) { return f.name == name; });
    if (file == files.end()) throw std::runtime_error(fmt::format("taxonomy file {} is missing", name));
    toml::table root;
    try {
      root = toml::parse(file->content, name);
    } catch (const toml::parse_error& e) {
      throw std::runtime_error(fmt::format("{} line {}: not valid TOML: {}", name, e.source().begin.line, e.description()));
    }
    (builder.*parse_one)(name, root);
  }
  return result;
}

std::optional<std::size_t> taxonomy::find_region(std::string_view id) const {
  if (auto it = region_index_.find(id); it != region_index_.end()) return it->second;
  return std::nullopt;
}
std::optional<std::size_t> taxonomy::find_topic(std::string_view id) const {
  if (auto it = topic_index_.find(id); it != topic_index_.end()) return it->second;
  return std::nullopt;
}
std::optional<std::size_t> taxonomy::find_outlet(std::string_view name) const {
  if (auto it = outlet_index_.find(name); it != outlet_index_.end()) return it->second;
  return std::nullopt;
}

std::optional<std::size_t> taxonomy::find_language(std::string_view id) const {
  if (auto it = language_index_.find(id); it != language_index_.end()) return it->second;
  return std::nullopt;
}

std::optional<std::size_t> taxonomy::outlet_for_domain(std::string_view domain) const {
  // Most specific first: news.bbc.co.uk, then bbc.co.uk, then co.uk (which no outlet owns).
  while (!domain.empty()) {
    if (auto it = domain_index_.find(domain); it != domain_index_.end()) return it->second;
    auto dot = domain.find('.');
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return std::nullopt;
}

}  // namespace md::routing
