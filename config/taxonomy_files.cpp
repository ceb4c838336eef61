// Taxonomy file reading (see taxonomy_files.hpp).
#include "config/taxonomy_files.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

std::span<const md::embedded_file> embedded_taxonomy_files();

namespace md {

std::vector<text_file> read_taxonomy_files(const std::string& folder) {
  std::vector<text_file> out;
  if (folder.empty()) {
    for (auto& f : embedded_taxonomy_files()) out.push_back({std::string(f.name), std::string(f.content)});
    return out;
  }
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    if (entry.path().extension() != ".toml") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream content;
    if (!in || !(content << in.rdbuf()))
      throw std::runtime_error(fmt::format("cannot read taxonomy file {}", entry.path().string()));
    out.push_back({entry.path().filename().string(), content.str()});
  }
  if (ec) throw std::runtime_error(fmt::format("cannot read the taxonomy folder {}: {}", folder, ec.message()));
  return out;
}

std::vector<embedded_file> as_embedded(const std::vector<text_file>& files) {
  std::vector<embedded_file> out;
  for (auto& f : files) out.push_back({f.name, f.content});
  return out;
}

}  // namespace md
