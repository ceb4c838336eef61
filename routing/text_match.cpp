// Word folding and term matching (see text_match.hpp).
#include "routing/text_match.hpp"

#include <algorithm>

namespace md::routing {
namespace {

bool is_ascii_letter_or_digit(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Folds the Latin-1 letters (UTF-8 lead byte 0xC3) to ASCII; nullptr for the two symbols in that
// block (multiplication and division signs), which break words.
const char* fold_latin1(unsigned char second) {
  static constexpr const char* table[64] = {
      "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",   // C3 80..8F
      "d", "n", "o", "o", "o", "o", "o", nullptr, "o", "u", "u", "u", "u", "y", "th", "ss",  // C3 90..9F
      "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",   // C3 A0..AF
      "d", "n", "o", "o", "o", "o", "o", nullptr, "o", "u", "u", "u", "u", "y", "th", "y"};  // C3 B0..BF
  if (second < 0x80 || second > 0xBF) return nullptr;
  return table[second - 0x80];
}

// Length of a UTF-8 sequence from its lead byte; 1 for a stray byte so that scanning progresses.
std::size_t sequence_length(unsigned char lead) {
  if (lead >= 0xF5) return 1;
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  return 1;
}

bool is_apostrophe(std::string_view text, std::size_t i, std::size_t& length) {
  if (text[i] == '\'') {
    length = 1;
    return true;
  }
  // U+2019 and U+2018, the typographic apostrophes mail clients insert.
  if (i + 2 < text.size() && static_cast<unsigned char>(text[i]) == 0xE2 && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
      (static_cast<unsigned char>(text[i + 2]) == 0x99 || static_cast<unsigned char>(text[i + 2]) == 0x98)) {
    length = 3;
    return true;
  }
  return false;
}

}  // namespace

word_list::word_list(std::string_view text) {
  folded_.reserve(text.size());
  bool in_word = false;
  auto start_word = [&](std::size_t at, bool capital) {
    words_.push_back({static_cast<std::uint32_t>(folded_.size()), 0, static_cast<std::uint32_t>(at), capital});
    in_word = true;
  };
  auto end_word = [&] {
    if (in_word) words_.back().folded_size = static_cast<std::uint32_t>(folded_.size() - words_.back().folded_begin);
    in_word = false;
  };
  auto append = [&](std::size_t at, bool capital, std::string_view folded) {
    if (!in_word) start_word(at, capital);
    folded_ += folded;
  };

  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (std::size_t apostrophe = 0; is_apostrophe(text, i, apostrophe)) {
      // A possessive 's is dropped ("Dover's" is Dover); other apostrophes join ("don't").
      std::size_t after = i + apostrophe;
      bool possessive = in_word && after < text.size() && (text[after] == 's' || text[after] == 'S') &&
                        (after + 1 >= text.size() || !is_ascii_letter_or_digit(static_cast<unsigned char>(text[after + 1])));
      if (possessive) {
        words_.back().possessive = true;
        end_word();
        after += 1;
      }
      i = after;
      continue;
    }
    if (c < 0x80) {
      if (is_ascii_letter_or_digit(c)) {
        char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c);
        append(i, c >= 'A' && c <= 'Z', std::string_view(&lower, 1));
      } else if (c == '&') {
        end_word();
        start_word(i, false);
        folded_ += '&';
        end_word();
      } else {
        end_word();
      }
      ++i;
      continue;
    }
    std::size_t length = std::min(sequence_length(c), text.size() - i);
    if (c == 0xC3 && length == 2) {
      auto second = static_cast<unsigned char>(text[i + 1]);
      if (const char* folded = fold_latin1(second)) {
        append(i, second < 0xA0, folded);
      } else {
        end_word();
      }
    } else if (c == 0xC2 && length == 2 && static_cast<unsigned char>(text[i + 1]) == 0xA3) {
      append(i, false, "£");
    } else if (c == 0xE2 || c == 0xC2 || length == 1) {
      end_word();  // general punctuation (dashes, quotes, no-break space) and stray bytes
    } else {
      append(i, false, text.substr(i, length));  // other scripts: kept as they are
    }
    i += length;
  }
  end_word();
}

std::vector<term_word> compile_term(std::string_view term) {
  std::vector<term_word> out;
  std::size_t i = 0;
  while (i < term.size()) {
    auto space = term.find(' ', i);
    auto word = term.substr(i, space == std::string_view::npos ? std::string_view::npos : space - i);
    if (word.empty()) return {};
    term_word w;
    if (word.back() == '*') {
      w.prefix = true;
      word.remove_suffix(1);
      if (word.size() < 3) return {};
    }
    for (char c : word) {
      auto u = static_cast<unsigned char>(c);
      bool allowed = (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u >= 0x80 || (c == '&' && word.size() == 1);
      if (!allowed) return {};
    }
    w.text = std::string(word);
    out.push_back(std::move(w));
    if (space == std::string_view::npos) break;
    i = space + 1;
    if (i == term.size()) return {};  // a trailing space
  }
  return out;
}

bool term_matcher::add(std::string_view term, std::uint32_t target, bool case_sensitive) {
  auto words = compile_term(term);
  if (words.empty()) return false;
  auto id = static_cast<std::uint32_t>(terms_.size());
  auto& first = words.front();
  if (first.prefix) {
    by_first_prefix_[first.text].push_back(id);
    longest_prefix_ = std::max(longest_prefix_, first.text.size());
  } else {
    by_first_word_[first.text].push_back(id);
  }
  terms_.push_back({std::move(words), std::string(term), target, case_sensitive});
  return true;
}

bool term_matcher::matches_at(const compiled& t, const word_list& words, std::size_t at) const {
  if (at + t.words.size() > words.size()) return false;
  for (std::size_t k = 0; k < t.words.size(); ++k) {
    auto w = words.word(at + k);
    auto& tw = t.words[k];
    // "Yarl's" matches the term word "yarls" as well as "yarl".
    bool possessive_match = words.possessive(at + k) && tw.text.size() == w.size() + 1 && tw.text.back() == 's' &&
                            std::string_view(tw.text).starts_with(w);
    if (tw.prefix ? !w.starts_with(tw.text) : (w != tw.text && !possessive_match)) return false;
    // Case-sensitive names need capitals on their words, except numbers, "&" and one-letter
    // words ("Express & Star", "BBC Radio 4", "The i").
    if (t.case_sensitive && w.size() > 1 && !words.capitalised(at + k) && !(w[0] >= '0' && w[0] <= '9')) return false;
  }
  return true;
}

void term_matcher::candidates_at(const word_list& words, std::size_t at, std::vector<std::uint32_t>& out) const {
  out.clear();
  auto w = words.word(at);
  if (auto it = by_first_word_.find(w); it != by_first_word_.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  if (words.possessive(at)) {
    std::string with_s = std::string(w) + 's';
    if (auto it = by_first_word_.find(with_s); it != by_first_word_.end())
      out.insert(out.end(), it->second.begin(), it->second.end());
  }
  if (!by_first_prefix_.empty()) {
    for (std::size_t n = 3; n <= std::min(w.size(), longest_prefix_); ++n) {
      if (auto it = by_first_prefix_.find(w.substr(0, n)); it != by_first_prefix_.end())
        out.insert(out.end(), it->second.begin(), it->second.end());
    }
  }
}

std::vector<term_match> term_matcher::find_all(const word_list& words) const {
  std::vector<term_match> out;
  std::vector<std::uint32_t> candidates;
  for (std::size_t at = 0; at < words.size(); ++at) {
    candidates_at(words, at, candidates);
    std::size_t first_here = out.size();
    for (auto id : candidates) {
      auto& t = terms_[id];
      if (matches_at(t, words, at))
        out.push_back({t.target, id, static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(t.words.size())});
    }
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first_here), out.end(),
                     [](const term_match& a, const term_match& b) { return a.word_count > b.word_count; });
  }
  return out;
}

std::vector<term_match> term_matcher::find_longest(const word_list& words,
                                                   std::span<const std::pair<std::uint32_t, std::uint32_t>> skip) const {
  std::vector<term_match> out;
  std::vector<std::uint32_t> candidates;
  std::size_t next_skip = 0;
  for (std::size_t at = 0; at < words.size();) {
    while (next_skip < skip.size() && skip[next_skip].first + skip[next_skip].second <= at) ++next_skip;
    if (next_skip < skip.size() && skip[next_skip].first <= at) {
      at = skip[next_skip].first + skip[next_skip].second;
      continue;
    }
    std::size_t limit = next_skip < skip.size() ? skip[next_skip].first : words.size();  // a match may not run into skipped words
    candidates_at(words, at, candidates);
    const compiled* best = nullptr;
    std::uint32_t best_id = 0;
    for (auto id : candidates) {
      auto& t = terms_[id];
      if (at + t.words.size() > limit) continue;
      if ((!best || t.words.size() > best->words.size()) && matches_at(t, words, at)) {
        best = &t;
        best_id = id;
      }
    }
    if (!best) {
      ++at;
      continue;
    }
    out.push_back({best->target, best_id, static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(best->words.size())});
    at += best->words.size();
  }
  return out;
}

}  // namespace md::routing
