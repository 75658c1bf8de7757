// OpenJournalModule: a journal reader from the module ember-journal.so, which the program of
// `component` ("ember-agent", "ember-aggregator" for the CLI it ships) finds beside it
// (common/module_loader.h). Only a program that reads a journal maps libsystemd.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "journal/journal_module.h"

namespace ember::journal {

// Errors: Unavailable when the module cannot be loaded (naming its path and why), and the
// reader's own (a journal that cannot be opened, a bad filter).
Result<std::unique_ptr<JournalSource>> OpenJournalModule(const std::string& component,
                                                         const JournalOpenRequest& request);

}  // namespace ember::journal
