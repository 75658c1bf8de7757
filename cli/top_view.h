// TopView: renders the aggregator's live-view JSON (see aggregator/live_view.h) as the lines
// of one `ember top` screen. Pure: no terminal, no clock, so snapshots are testable.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ember::cli {

enum class TopSort { kRate, kMatches, kFiring, kName };
const char* TopSortName(TopSort s);
TopSort NextTopSort(TopSort s);

struct TopViewOptions {
  int width = 80;
  int height = 24;  // lines available; 0 = as many as needed (--once)
  TopSort sort = TopSort::kRate;
  std::string filter;         // only rules whose name, or keys, contain this
  bool color = false;         // ANSI colours for severities
  bool unicode = true;        // sparklines with block characters, else ASCII
  std::string source;         // shown in the header (the URL)
  std::string error;          // shown instead of the data when the last fetch failed
  bool interactive = false;   // show the key help line
  std::string typing_filter;  // the filter being typed after '/', shown in the footer
  bool typing = false;
};

std::vector<std::string> RenderTopView(const nlohmann::json& view, const TopViewOptions& o);

// "▁▃█" for counts scaled to their maximum (ASCII " .:-=+*#" when !unicode).
std::string Sparkline(const std::vector<uint64_t>& counts, bool unicode);

}  // namespace ember::cli
