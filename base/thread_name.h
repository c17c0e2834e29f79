// base/thread_name.h — names for the threads iranker starts, as top, perf and gdb show them.
#pragma once

namespace iranker {

// Names the calling thread (15 characters at most; longer names are cut).
void NameThisThread(const char* name);

}  // namespace iranker
