// Request similarity (see similarity.hpp).
#include "routing/similarity.hpp"

#include <algorithm>
#include <string>
#include <unordered_set>

#include "routing/text_match.hpp"

namespace md::routing {
namespace {

bool is_common_word(std::string_view w) {
  static const std::unordered_set<std::string_view> common = {
      "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "her", "was", "one", "our", "out",
      "has", "have", "had", "his", "how", "its", "may", "who", "did", "get", "got", "let", "she", "too", "use",
      "this", "that", "with", "from", "they", "them", "their", "there", "what", "when", "where", "which", "will",
      "would", "could", "should", "about", "into", "than", "then", "been", "were", "also", "just", "like", "some",
      "your", "yours", "very", "much", "more", "most", "only", "over", "such", "here", "hello", "dear", "thanks",
      "thank", "please", "best", "regards", "many", "wishes", "kind", "hope", "well", "know", "need", "needs",
      "looking", "someone", "anyone", "today", "tomorrow", "able", "does", "doing", "want", "wanted"};
  return common.contains(w);
}

std::unordered_set<std::string> content_words(std::string_view text) {
  word_list words(text);
  std::unordered_set<std::string> out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    auto w = words.word(i);
    if (w.size() >= 3 && !is_common_word(w)) out.emplace(w);
  }
  return out;
}

}  // namespace

bool same_request(std::string_view a, std::string_view b) {
  auto wa = content_words(a), wb = content_words(b);
  if (wa.size() > wb.size()) std::swap(wa, wb);
  if (wa.size() < 5) return false;
  std::size_t shared = std::count_if(wa.begin(), wa.end(), [&](const std::string& w) { return wb.contains(w); });
  double jaccard = static_cast<double>(shared) / static_cast<double>(wa.size() + wb.size() - shared);
  double containment = static_cast<double>(shared) / static_cast<double>(wa.size());
  return jaccard >= 0.5 || containment >= 0.7;
}

}  // namespace md::routing
