// Words and terms: folds free text into lowercase words and finds taxonomy terms ("small boat*",
// "bbc radio kent") among them in linear time. Pure; no regexes, no I/O.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace md::routing {

// Text folded into words: lowercase, accents removed, apostrophes dropped, every other
// punctuation a break. "£" is kept as a letter so that "£49" stays one word. A possessive
// ("Dover's") is kept as its stem, marked, so that it matches both "dover" and "dovers".
class word_list {
 public:
  explicit word_list(std::string_view text);

  std::size_t size() const { return words_.size(); }
  std::string_view word(std::size_t i) const { return {folded_.data() + words_[i].folded_begin, words_[i].folded_size}; }
  // Whether the word was written with a capital first letter (for case-sensitive names).
  bool capitalised(std::size_t i) const { return words_[i].capitalised; }
  bool possessive(std::size_t i) const { return words_[i].possessive; }
  // Where the word is in the original text, for callers that split text into sections.
  std::size_t source_offset(std::size_t i) const { return words_[i].source_begin; }

 private:
  struct entry {
    std::uint32_t folded_begin, folded_size, source_begin;
    bool capitalised;
    bool possessive = false;
  };
  std::string folded_;
  std::vector<entry> words_;
};

// A term compiled into words; a word ending in '*' matches any word starting with its prefix.
struct term_word {
  std::string text;
  bool prefix = false;
};
// Parses a term as written in the taxonomy. Returns an empty vector for an invalid term (empty,
// upper case, punctuation other than the trailing '*', or a prefix shorter than 3 letters).
std::vector<term_word> compile_term(std::string_view term);

struct term_match {
  std::uint32_t target;       // what the term stands for (a topic, region, outlet... index)
  std::uint32_t term;         // which term matched (index in the order added)
  std::uint32_t first_word;   // position in the word_list
  std::uint32_t word_count;
};

// Many terms, each for a target; finds all their occurrences in one pass over the words. Each
// word is looked up once exactly and once per prefix length, so time is linear in the text.
class term_matcher {
 public:
  // Returns false (and adds nothing) when the term is invalid.
  bool add(std::string_view term, std::uint32_t target, bool case_sensitive = false);
  std::size_t term_count() const { return terms_.size(); }
  std::string_view term_text(std::uint32_t term) const { return terms_[term].source; }

  // All occurrences, ordered by position, longer terms first at the same position.
  std::vector<term_match> find_all(const word_list& words) const;
  // Non-overlapping occurrences: the longest term wins where terms overlap (so "bbc radio
  // kent" hides "kent"). Words covered by `skip` (sorted, disjoint ranges) are not matched.
  std::vector<term_match> find_longest(const word_list& words,
                                       std::span<const std::pair<std::uint32_t, std::uint32_t>> skip = {}) const;

 private:
  struct compiled {
    std::vector<term_word> words;
    std::string source;
    std::uint32_t target;
    bool case_sensitive;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using index = std::unordered_map<std::string, std::vector<std::uint32_t>, string_hash, std::equal_to<>>;

  bool matches_at(const compiled& t, const word_list& words, std::size_t at) const;
  void candidates_at(const word_list& words, std::size_t at, std::vector<std::uint32_t>& out) const;

  std::vector<compiled> terms_;
  index by_first_word_;    // terms whose first word is exact
  index by_first_prefix_;  // terms whose first word is a prefix
  std::size_t longest_prefix_ = 0;
};

}  // namespace md::routing
