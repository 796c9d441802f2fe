// CG_FIELDS(...): a message lists its fields once, in visit(); the codec
// (wire_codec.hpp) walks them to encode and decode.
#pragma once

#define CG_FIELDS(...) \
    template <class Self, class F> static void visit([[maybe_unused]] Self& s, F&& f) { f(__VA_ARGS__); }
