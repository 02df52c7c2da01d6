#include "af/history/term_history.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace af::history {

namespace {

/// What can end a term, most telling first, with the name `history` shows. A switchover or a
/// terminate is followed by a plain release, so they must win over it.
constexpr std::array<std::pair<const char*, const char*>, 10> k_endings{{
    {"terminate_requested", "terminate"},
    {"daemon_died", "daemon died"},
    {"switchover", "switchover"},
    {"failback", "failback"},
    {"crash_loop", "crash loop"},
    {"fenced", "fenced"},
    {"lease_lost", "lease lost"},
    {"shutdown", "released"},
    {"released", "released"},
    {"stepped_down", "released"},
}};

}  // namespace

std::vector<Term> term_history(const std::vector<Event>& events) {
    std::vector<Term> out;
    std::vector<std::size_t> starts;  // index of each became_active
    for (std::size_t i = 0; i < events.size(); ++i)
        if (events[i].kind == "became_active")
            starts.push_back(i);
    for (std::size_t s = 0; s < starts.size(); ++s) {
        const Event& begin = events[starts[s]];
        const Event* next = s + 1 < starts.size() ? &events[starts[s + 1]] : nullptr;
        Term t;
        t.term = begin.term;
        t.holder = begin.node_id;
        t.start = begin.at;
        // The holder's own records of this term, up to the next term's start.
        const Event* last = &begin;
        const Event* ending = nullptr;
        const Event* release = nullptr;  // the term ends for the next holder at the release
        std::size_t rank = k_endings.size();
        for (std::size_t i = starts[s] + 1; i < events.size(); ++i) {
            const Event& e = events[i];
            if (e.node_id != t.holder || e.term != t.term)
                continue;
            // After the next term began, only a release still belongs to this term's end: its
            // row can be written just after the release committed and the next node won.
            // Anything else (a frozen holder waking up fenced) means the lease had expired.
            if (next && e.at_ms > next->at_ms && e.kind != "released" && e.kind != "stepped_down")
                continue;
            last = &e;
            // "released" is the moment the next node could win; "stepped_down" follows it in
            // the same step (and stands alone when the lease was lost instead).
            if (e.kind == "released" || (e.kind == "stepped_down" && !release))
                release = &e;
            for (std::size_t r = 0; r < rank; ++r) {
                if (e.kind == k_endings[r].first) {
                    rank = r;
                    ending = &e;
                    break;
                }
            }
        }
        if (ending) {
            t.ended = k_endings[rank].second;
            t.detail = ending->detail;
            // A switchover, terminate or shutdown is announced first; the processes stop, and
            // the term ends at the release after them.
            const Event* end_at = release ? release : ending;
            t.end = end_at->at;
            if (next)
                t.gap_ms = std::max(0.0, next->at_ms - end_at->at_ms);
        } else if (next) {
            t.ended = "expired";
            t.detail = "no end recorded: the holder's lease ran out (host lost or frozen?)";
            t.gap_ms = std::max(0.0, next->at_ms - last->at_ms);
            t.gap_is_upper_bound = true;
        } else {
            t.ended = "active";
        }
        out.push_back(std::move(t));
    }
    return out;
}

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
