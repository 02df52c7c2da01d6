#pragma once

#include <string>
#include <string_view>

namespace af::history {

/// Text from the database as `status` and `history` print it to a terminal. Some of it is written
/// by other roles (the dashboard's `for_holder` and `requested_by`, an operator's reason): an
/// escape sequence in it could rewrite the screen, a newline forge a line. Control characters
/// (C0, DEL, C1) and bytes that are not UTF-8 become `\xNN`, a backslash `\\`; other
/// UTF-8 is kept as it is.
std::string printable(std::string_view s);

}  // namespace af::history
