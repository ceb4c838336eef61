// The triage taxonomy's TOML files: read from a folder staff can edit, or the copies built into
// the binary. Reading only; routing/taxonomy parses and checks them.
#pragma once
#include <string>
#include <vector>

#include "core/embedded_file.hpp"

namespace md {

struct text_file {
  std::string name, content;
};

// folder empty: the built-in copies. Throws std::runtime_error naming a file that cannot be read.
std::vector<text_file> read_taxonomy_files(const std::string& folder);

// Views over files, for routing::taxonomy::parse.
std::vector<embedded_file> as_embedded(const std::vector<text_file>& files);

}  // namespace md
