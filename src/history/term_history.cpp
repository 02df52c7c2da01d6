#include "af/history/term_history.hpp"

namespace af::history {

nlohmann::json to_json(const Term& t) {
    return {{"term", t.term},
            {"holder", t.holder},
            {"start", t.start},
            {"end", t.end ? nlohmann::json(*t.end) : nlohmann::json(nullptr)},
            {"ended", t.ended},
            {"detail", t.detail},
            {"gap_ms", t.gap_ms ? nlohmann::json(*t.gap_ms) : nlohmann::json(nullptr)},
            {"gap_is_upper_bound", t.gap_is_upper_bound}};
}

}  // namespace af::history
