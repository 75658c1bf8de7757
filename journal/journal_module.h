// The journal module's entry point (ember-journal.so): libsystemd is mapped only by a program
// that loads it, so an agent without a journal input does not carry it.
#pragma once

#include <string>
#include <vector>

#include "journal/journal_entry.h"
#include "journal/journal_source.h"

namespace ember::journal {

// Which journal to open: the journal files `files` when there are any, else the journal
// in `directory`, or the local system's when it is "".
struct JournalOpenRequest {
  std::string directory;
  JournalFilter filter;
  std::vector<std::string> files;
};

// The module's exported function, `ember_journal_open`: a new reader the caller owns, or null
// with *error set.
using JournalOpenFn = JournalSource* (*)(const JournalOpenRequest*, Status*);

}  // namespace ember::journal
