// Whether two requests from the same journalist ask the same thing (a form and then an email,
// or a resend): overlap of their content words. Pure; the store decides within what window.
#pragma once
#include <string_view>

namespace md::routing {

// Content words: folded words of three letters or more, minus common English words.
// Same request: Jaccard overlap of at least 0.5, or the smaller request's words at least 70 %
// inside the larger one (a short form entry repeated in a longer email); five words at least.
bool same_request(std::string_view a, std::string_view b);

}  // namespace md::routing
