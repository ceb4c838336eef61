// The triage taxonomy: topics, regions, outlets, languages, cue words and priority weights,
// parsed from the TOML texts of config/taxonomy/ (config/ reads them; this parses, no I/O) and
// compiled into term matchers once. Immutable: a reload builds a new one and swaps it.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/embedded_file.hpp"
#include "routing/text_match.hpp"

namespace md::routing {

struct topic_definition {
  std::string id, label;
  double weight = 0.5;  // 0..1: how much a request on this topic raises priority
};

struct region_definition {
  std::string id, name, level;  // level: country | region | county | city | town | area
  int parent = -1;              // index, -1 at the top
  int region_level = -1;        // index of the region-level ancestor (itself for one); -1 for containers
  std::vector<std::string> neighbours;
};

struct outlet_definition {
  std::string name, scope, medium;  // scope: national | local | international
  int region = -1;                  // index of the area a local outlet serves, -1 if none
  int part_of = -1;                 // the umbrella outlet whose email domain it shares (BBC News for BBC Radio Kent)
  std::vector<std::string> domains;
};

struct language_definition {
  std::string id, label;
};

// Points from time left, reach and topic (priority.toml).
struct priority_weights {
  double time_points = 60, reach_points = 25, topic_points = 15;
  std::map<std::string, double> reach_share{{"national", 1.0}, {"international", 0.8}, {"local", 0.6}, {"unknown", 0.4}};
  std::vector<std::pair<double, double>> time_steps{{2, 1.0}, {4, 0.85}, {8, 0.7}, {24, 0.5}, {72, 0.3}};
  double time_share_later = 0.15, time_share_no_deadline = 0.25, time_share_urgent_words = 0.9;
  int urgent_from = 75, high_from = 50, normal_from = 25;  // score -> the queue's priority level
  double target_share = 0.6;  // the desk aims to offer within this share of the time to deadline
  double target_hours_without_deadline = 24;
};

// Cue word lists from cues.toml, each compiled into a matcher whose targets are list members.
enum class cue : std::uint32_t {
  tv, radio, print, online, podcast,          // media (first five, in medium_names order)
  lived_experience, expert, on_camera, voice_only, named, anonymous,
  language_request,  // "speaker", "interpreter": a language name near one is a language need
  urgency,           // "asap", "urgent": no time, but priority rises
  negation,          // "not", "doesnt need to be": flips on_camera / named that follow
  count_
};

class taxonomy {
 public:
  // Parses topics.toml, regions.toml, outlets.toml, languages.toml, cues.toml and priority.toml
  // (by name; others are ignored). Throws std::runtime_error naming the file and what is wrong:
  // a parse error with its line, an unknown key, a missing required id, a bad term.
  static std::shared_ptr<const taxonomy> parse(std::span<const embedded_file> files);

  std::vector<topic_definition> topics;
  std::vector<region_definition> regions;
  std::vector<outlet_definition> outlets;
  std::vector<language_definition> languages;
  priority_weights priority;

  term_matcher topic_strong, topic_keywords;  // target: topic index
  term_matcher region_names;                  // target: region index
  term_matcher outlet_names;                  // target: outlet index
  term_matcher language_names;                // target: language index
  term_matcher cues;                          // target: cue

  std::optional<std::size_t> find_region(std::string_view id) const;
  std::optional<std::size_t> find_topic(std::string_view id) const;
  std::optional<std::size_t> find_outlet(std::string_view name) const;  // exact canonical name
  std::optional<std::size_t> find_language(std::string_view id) const;  // "ar", "prs": ids as stored for spokespeople
  // The outlet owning an email domain or one of its parent domains (news.bbc.co.uk -> bbc.co.uk).
  std::optional<std::size_t> outlet_for_domain(std::string_view domain) const;

  static constexpr std::string_view required_topics[] = {
      "asylum_process", "channel_crossings", "detention", "deportation", "eu_settlement", "windrush",
      "nrpf", "health", "housing", "trafficking", "employment", "family_reunion",
      "children", "destitution", "community", "hate_crime", "resettlement", "covid"};
  static constexpr std::string_view required_regions[] = {
      "north_east", "north_west", "yorkshire_humber", "east_midlands", "west_midlands", "east_of_england", "london",
      "south_east", "south_west", "wales", "scotland", "northern_ireland", "france", "greece"};

 private:
  std::map<std::string, std::size_t, std::less<>> region_index_, topic_index_, outlet_index_, domain_index_, language_index_;
  friend struct taxonomy_builder;
};

}  // namespace md::routing
