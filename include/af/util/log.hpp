#pragma once

#include <string>

namespace af {

/// Sets up the default spdlog logger on stderr: human text, or one JSON object per line.
/// When stderr is journald's stream (JOURNAL_STREAM names it), every line starts with its
/// syslog priority (<4> for a warning), which journald stores as the entry's PRIORITY.
/// True when stderr is the stream systemd's JOURNAL_STREAM names (device:inode).
bool stderr_is_journal();

void setup_logging(const std::string& level, const std::string& format, const std::string& node);

}  // namespace af
