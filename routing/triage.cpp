// Triage extraction, priority and target time (see triage.hpp). Scores and thresholds here are
// tuned against the labelled corpus in tests/data/triage (tests/unit/triage_corpus_tests.cpp).
#include "routing/triage.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "routing/deadline.hpp"

namespace md::routing {
namespace {

constexpr std::string_view medium_names[] = {"tv", "radio", "print", "online", "podcast"};

bool is(const term_match& m, cue c) { return m.target == static_cast<std::uint32_t>(c); }

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

// ---- topics ---------------------------------------------------------------------------------

// Strong terms count 3, keywords 1, each distinct term once (a repeat adds a little); words in
// the subject count double. Kept: topics with at least 2 points and a third of the best score.
void find_topics(const taxonomy& tax, const word_list& words, std::size_t subject_end, triage_result& out) {
  struct tally {
    double score = 0;
    std::uint32_t first = UINT32_MAX;
    std::map<std::uint32_t, int> terms;  // term -> occurrences
    std::vector<std::string> shown;
  };
  std::map<std::uint32_t, tally> by_topic;
  auto count = [&](const term_matcher& matcher, double points) {
    for (auto& m : matcher.find_all(words)) {
      auto& t = by_topic[m.target];
      bool in_subject = words.source_offset(m.first_word) < subject_end;
      int seen = t.terms[m.term]++;
      double gained = (seen == 0 ? points : points * 0.25) * (in_subject ? 2 : 1);
      if (seen < 4) t.score += gained;  // repeats are capped: one long ramble is not ten mentions
      t.first = std::min(t.first, m.first_word);
      if (seen == 0 && t.shown.size() < 4) t.shown.push_back(std::string(matcher.term_text(m.term)));
    }
  };
  count(tax.topic_strong, 3);
  count(tax.topic_keywords, 1);
  double best = 0;
  for (auto& [_, t] : by_topic) best = std::max(best, t.score);
  std::vector<std::pair<std::uint32_t, const tally*>> kept;
  // A single keyword is enough when nothing says more (a short request: "protest outside the hotel").
  double floor = best >= 2 ? 2 : 1;
  for (auto& [topic, t] : by_topic)
    if (t.score >= floor && t.score >= best / 3) kept.emplace_back(topic, &t);
  std::sort(kept.begin(), kept.end(), [](auto& a, auto& b) {
    return a.second->score != b.second->score ? a.second->score > b.second->score : a.second->first < b.second->first;
  });
  for (auto& [topic, t] : kept) {
    out.topics.push_back(tax.topics[topic].id);
    out.explain.push_back(fmt::format("topic {} ({:g} points): {}", tax.topics[topic].id, t->score, join(t->shown, ", ")));
  }
}

// ---- outlet ---------------------------------------------------------------------------------

struct outlet_choice {
  int outlet = -1;
  std::string how;
};

// Words that, just before an outlet's name, say the sender works for it ("a producer at", "for").
bool cued_as_employer(const word_list& words, std::uint32_t at) {
  static constexpr std::string_view cues[] = {"at", "for", "from", "with", "producer", "reporter", "journalist",
                                              "correspondent", "editor", "researcher", "presenter", "here", "im",
                                              "work", "working", "writing", "freelancing", "commissioned", "behalf"};
  for (std::uint32_t back = 1; back <= 3 && back <= at; ++back) {
    auto w = words.word(at - back);
    for (auto c : cues)
      if (w == c) return true;
  }
  return false;
}

// Whether `outlet` belongs to `umbrella`: named part of it, or sharing its brand, the first
// word of the name (BBC Radio Kent and BBC News; ITV Granada and ITV News).
bool in_family(const taxonomy& tax, std::size_t outlet, std::size_t umbrella) {
  if (outlet == umbrella) return false;
  auto& o = tax.outlets[outlet];
  if (o.part_of == static_cast<int>(umbrella)) return true;
  auto brand = [](std::string_view name) { return name.substr(0, name.find(' ')); };
  return brand(o.name) == brand(tax.outlets[umbrella].name);
}

// Signature 4 points, a cued mention 3, the sender's domain 2.5, any other mention 1; a
// programme or station of the sender's own organisation, mentioned anywhere, 5 (a bbc.co.uk
// sender writing about BBC Radio Kent works for BBC Radio Kent). The most specific name breaks
// ties.
outlet_choice find_outlet(const taxonomy& tax, const triage_input& input, const word_list& words,
                          std::vector<std::pair<std::uint32_t, std::uint32_t>>& outlet_spans) {
  if (!input.stated_outlet.empty()) {
    word_list stated(input.stated_outlet);
    auto found = tax.outlet_names.find_longest(stated);
    if (!found.empty()) return {static_cast<int>(found.front().target), "the request's outlet field"};
    return {-1, {}};
  }
  std::map<std::uint32_t, std::pair<double, std::string>> scores;
  auto consider = [&](std::uint32_t outlet, double points, std::string how) {
    auto& s = scores[outlet];
    if (points > s.first) s = {points, std::move(how)};
  };
  for (auto& m : tax.outlet_names.find_longest(words)) {
    outlet_spans.emplace_back(m.first_word, m.word_count);
    bool cued = cued_as_employer(words, m.first_word);
    consider(m.target, cued ? 3 : 1, fmt::format("'{}' in the request", tax.outlet_names.term_text(m.term)));
  }
  word_list signature(input.signature);
  for (auto& m : tax.outlet_names.find_longest(signature))
    consider(m.target, 4, fmt::format("'{}' in the signature", tax.outlet_names.term_text(m.term)));
  if (auto at = input.sender_address.rfind('@'); at != std::string_view::npos) {
    std::string domain(input.sender_address.substr(at + 1));
    std::transform(domain.begin(), domain.end(), domain.begin(), [](unsigned char c) { return std::tolower(c); });
    if (auto umbrella = tax.outlet_for_domain(domain)) {
      std::vector<std::uint32_t> family;
      for (auto& [outlet, _] : scores)
        if (in_family(tax, outlet, *umbrella)) family.push_back(outlet);
      for (auto outlet : family) consider(outlet, 5, scores[outlet].second + ", part of the sender's organisation");
      consider(static_cast<std::uint32_t>(*umbrella), 2.5, "the sender's email domain");
    }
  }
  outlet_choice best;
  double best_score = 0;
  for (auto& [outlet, s] : scores) {
    bool better = s.first > best_score ||
                  (s.first == best_score && tax.outlets[outlet].name.size() > tax.outlets[best.outlet].name.size());
    if (better) {
      best = {static_cast<int>(outlet), s.second};
      best_score = s.first;
    }
  }
  return best;
}

// ---- regions --------------------------------------------------------------------------------

void add_region_chain(const taxonomy& tax, int region, std::vector<std::string>& out) {
  if (region < 0 || tax.regions[region].region_level < 0) return;  // uk, england: no region
  for (int at = region; at >= 0; at = tax.regions[at].parent) {
    auto& id = tax.regions[at].id;
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    if (at == tax.regions[region].region_level) break;
  }
}

void find_regions(const taxonomy& tax, const word_list& words, std::vector<std::pair<std::uint32_t, std::uint32_t>> skip,
                  int outlet, triage_result& out) {
  std::sort(skip.begin(), skip.end());
  std::vector<std::string> shown;
  for (auto& m : tax.region_names.find_longest(words, skip)) {
    auto before = out.regions.size();
    add_region_chain(tax, static_cast<int>(m.target), out.regions);
    if (out.regions.size() > before) shown.push_back(std::string(tax.region_names.term_text(m.term)));
  }
  if (!shown.empty()) {
    out.explain.push_back(fmt::format("regions {} from {}", join(out.regions, ", "), join(shown, ", ")));
  } else if (outlet >= 0 && tax.outlets[outlet].region >= 0) {
    add_region_chain(tax, tax.outlets[outlet].region, out.regions);
    out.explain.push_back(fmt::format("regions {}: no place named; the area {} serves", join(out.regions, ", "),
                                      tax.outlets[outlet].name));
  }
}

// ---- medium and needs -----------------------------------------------------------------------

bool urgent_words_in(const std::vector<term_match>& cues) {
  return std::any_of(cues.begin(), cues.end(), [](auto& m) { return is(m, cue::urgency); });
}

void find_medium(const taxonomy& tax, const std::vector<term_match>& cues, int outlet, triage_result& out) {
  double score[5] = {0, 0, 0, 0, 0};
  std::uint32_t first[5] = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX};
  std::vector<std::uint32_t> seen_terms;
  for (auto& m : cues) {
    if (m.target > static_cast<std::uint32_t>(cue::podcast)) continue;
    if (std::find(seen_terms.begin(), seen_terms.end(), m.term) != seen_terms.end()) continue;
    seen_terms.push_back(m.term);
    score[m.target] += 1;
    first[m.target] = std::min(first[m.target], m.first_word);
  }
  // The outlet's usual medium counts as one cue: a radio station's request is radio unless the
  // text says otherwise more than once.
  int usual = -1;
  if (outlet >= 0)
    for (int i = 0; i < 5; ++i)
      if (tax.outlets[outlet].medium == medium_names[i]) usual = i;
  if (usual >= 0) score[usual] += 1, first[usual] = std::min<std::uint32_t>(first[usual], UINT32_MAX - 1);
  int best = -1;
  for (int i = 0; i < 5; ++i)
    if (score[i] > 0 && (best < 0 || score[i] > score[best] || (score[i] == score[best] && first[i] < first[best])))
      best = i;
  if (best < 0) return;
  out.medium = std::string(medium_names[best]);
  out.explain.push_back(best == usual && score[best] == 1 ? fmt::format("medium {}: the outlet's usual medium", out.medium)
                                                          : fmt::format("medium {} ({:g} cues)", out.medium, score[best]));
}

void find_needs(const taxonomy& tax, const word_list& words, const std::vector<term_match>& cues, triage_result& out) {
  auto& needs = out.needs;
  std::vector<std::string> why;
  // A negation ending at most three words before a cue flips it ("doesnt need to be on camera").
  // Positions are sorted once so that each look-up is a binary search: linear time overall.
  std::vector<std::uint32_t> negation_ends, request_words;
  for (auto& m : cues) {
    if (is(m, cue::negation)) negation_ends.push_back(m.first_word + m.word_count);
    if (is(m, cue::language_request)) request_words.push_back(m.first_word);
  }
  std::sort(negation_ends.begin(), negation_ends.end());
  auto negated = [&](const term_match& m) {
    auto it = std::lower_bound(negation_ends.begin(), negation_ends.end(), m.first_word >= 3 ? m.first_word - 3 : 0);
    return it != negation_ends.end() && *it <= m.first_word;
  };
  // Lived experience is what most requests want: assumed unless the request turns it down
  // ("not looking for case studies") or asks only for an expert, a charity voice or a comment.
  const term_match* lived = nullptr;
  const term_match* lived_refused = nullptr;
  const term_match* expert = nullptr;
  for (auto& m : cues) {
    auto term = std::string(tax.cues.term_text(m.term));
    if (is(m, cue::lived_experience)) {
      if (negated(m)) lived_refused = lived_refused ? lived_refused : &m;
      else lived = lived ? lived : &m;
    } else if (is(m, cue::expert) && !expert) {
      expert = &m;
    } else if ((is(m, cue::on_camera) || is(m, cue::voice_only)) && needs.appearance != "voice_only") {
      // Voice only wins over on camera ("film them in silhouette"): the least exposure asked for.
      bool camera = is(m, cue::on_camera) != negated(m);
      if (camera && !needs.appearance.empty()) continue;
      needs.appearance = camera ? "on_camera" : "voice_only";
      why.push_back(fmt::format("{} ('{}')", needs.appearance, term));
    } else if (is(m, cue::anonymous) || (is(m, cue::named) && negated(m))) {
      if (needs.identification != "anonymous") why.push_back(fmt::format("anonymous ('{}')", term));
      needs.identification = "anonymous";  // anonymity offered means any level of identification will do
    } else if (is(m, cue::named) && needs.identification.empty()) {
      needs.identification = "named";
      why.push_back(fmt::format("named ('{}')", term));
    }
  }
  auto term_of = [&](const term_match* m) { return std::string(tax.cues.term_text(m->term)); };
  if (lived_refused) {
    why.push_back(fmt::format("no lived experience ('{}' turned down)", term_of(lived_refused)));
  } else if (lived) {
    needs.lived_experience = true;
    why.push_back(fmt::format("lived experience ('{}')", term_of(lived)));
  } else if (expert) {
    why.push_back(fmt::format("an expert, not lived experience ('{}')", term_of(expert)));
  } else {
    needs.lived_experience = true;
    why.push_back("lived experience (assumed: no expert asked for)");
  }
  // A language counts when a request word ("speaker", "interpreter") is within four words of it.
  auto languages = tax.language_names.find_all(words);
  for (auto& l : languages) {
    // Request words start at most 4 words after the language, or end at most 4 before it (the
    // longest request term is 3 words, so starting 7 before is the earliest that can).
    auto from = l.first_word >= 7 ? l.first_word - 7 : 0;
    auto it = std::lower_bound(request_words.begin(), request_words.end(), from);
    bool requested = it != request_words.end() && *it <= l.first_word + l.word_count + 4;
    auto& id = tax.languages[l.target].id;
    if (requested && std::find(needs.languages.begin(), needs.languages.end(), id) == needs.languages.end()) {
      needs.languages.push_back(id);
      why.push_back(fmt::format("language {}", id));
    }
  }
  if (!why.empty()) out.explain.push_back("needs: " + join(why, "; "));
}

}  // namespace

priority priority_level_for(const priority_weights& weights, int score) {
  if (score >= weights.urgent_from) return priority::urgent;
  if (score >= weights.high_from) return priority::high;
  if (score >= weights.normal_from) return priority::normal;
  return priority::low;
}

priority_outcome prioritise(const taxonomy& tax, std::optional<time_point> deadline, std::string_view outlet_scope,
                            const std::vector<std::string>& topics, bool urgent_words, time_point now) {
  auto& w = tax.priority;
  double time_share = urgent_words ? w.time_share_urgent_words : w.time_share_no_deadline;
  std::string time_why = urgent_words ? "no deadline, urgent words" : "no deadline";
  priority_outcome out;
  if (deadline) {
    double hours_left = std::chrono::duration<double, std::ratio<3600>>(*deadline - now).count();
    time_share = w.time_share_later;
    for (auto& [hours, share] : w.time_steps)
      if (hours_left <= hours) {
        time_share = share;
        break;
      }
    time_why = hours_left <= 0 ? "deadline passed" : fmt::format("{:.1f} h left", hours_left);
    auto window = std::max(*deadline - now, time_point::duration{0});
    out.target_at = now + std::chrono::duration_cast<time_point::duration>(window * w.target_share);
  } else {
    out.target_at = now + std::chrono::duration_cast<time_point::duration>(
                              std::chrono::duration<double, std::ratio<3600>>(w.target_hours_without_deadline));
  }
  auto reach_it = w.reach_share.find(outlet_scope.empty() ? "unknown" : std::string(outlet_scope));
  double reach_share = reach_it != w.reach_share.end() ? reach_it->second : w.reach_share.at("unknown");
  double topic_weight = 0;
  std::string topic_why = "no topic";
  for (auto& id : topics)
    if (auto t = tax.find_topic(id); t && tax.topics[*t].weight > topic_weight) {
      topic_weight = tax.topics[*t].weight;
      topic_why = id;
    }
  double time_points = w.time_points * time_share, reach_points = w.reach_points * reach_share,
         topic_points = w.topic_points * topic_weight;
  out.score = std::clamp(static_cast<int>(std::lround(time_points + reach_points + topic_points)), 0, 100);
  out.level = priority_level_for(w, out.score);
  out.explain = fmt::format("priority {} ({}) = time {:.0f} ({}) + reach {:.0f} ({}) + topic {:.0f} ({})", out.score,
                            to_string(out.level), time_points, time_why, reach_points,
                            outlet_scope.empty() ? "unknown" : outlet_scope, topic_points, topic_why);
  return out;
}

triage_result triage(const taxonomy& tax, const triage_input& input, time_point now) {
  triage_result out;
  std::string text;
  text.reserve(input.subject.size() + 1 + input.new_text.size());
  text.append(input.subject).append("\n").append(input.new_text);
  word_list words(text);
  std::size_t subject_end = input.subject.size();

  find_topics(tax, words, subject_end, out);

  std::vector<std::pair<std::uint32_t, std::uint32_t>> outlet_spans;
  auto outlet = find_outlet(tax, input, words, outlet_spans);
  if (outlet.outlet >= 0) {
    auto& o = tax.outlets[outlet.outlet];
    out.outlet_name = o.name;
    out.outlet_scope = o.scope;
    out.explain.push_back(fmt::format("outlet {} ({}) from {}", o.name, o.scope, outlet.how));
  } else if (!input.stated_outlet.empty()) {
    out.outlet_name = std::string(input.stated_outlet);
    out.explain.push_back("outlet as stated; not in the taxonomy, so its reach is unknown");
  }

  find_regions(tax, words, outlet_spans, outlet.outlet, out);

  auto cues = tax.cues.find_all(words);
  find_medium(tax, cues, outlet.outlet, out);
  find_needs(tax, words, cues, out);

  if (input.stated_deadline) {
    out.deadline = input.stated_deadline;
    out.explain.push_back(fmt::format("deadline {} from the request's deadline field", format_iso8601(*out.deadline)));
  } else if (auto found = find_deadline(text, now)) {
    out.deadline = found->at;
    out.explain.push_back(fmt::format("deadline {} from '{}' ({})", format_iso8601(found->at), found->phrase, found->why));
  }

  auto p = prioritise(tax, out.deadline, out.outlet_scope, out.topics, urgent_words_in(cues), now);
  out.priority_score = p.score;
  out.priority_level = p.level;
  out.target_at = p.target_at;
  out.explain.push_back(std::move(p.explain));
  out.explain.push_back(fmt::format("target {} for a first offer", format_iso8601(out.target_at)));
  return out;
}

}  // namespace md::routing
