// ember-journal.so: the libsystemd-backed reader behind the JournalSource interface.
#include "journal/journal_module.h"

#include "common/module_loader.h"
#include "journal/journal_reader.h"

#define EMBER_EXPORT extern "C" __attribute__((visibility("default")))

EMBER_EXPORT const char* ember_module_abi() { return ember::kModuleAbi; }

// Opens the journal the request names; null with *error set when it cannot. The caller owns
// the result.
EMBER_EXPORT ember::journal::JournalSource* ember_journal_open(
    const ember::journal::JournalOpenRequest* request, ember::Status* error) {
  using ember::journal::JournalReader;
  auto reader = !request->files.empty() ? JournalReader::OpenFiles(request->files, request->filter)
                : request->directory.empty()
                    ? JournalReader::OpenLocal(request->filter)
                    : JournalReader::OpenDirectory(request->directory, request->filter);
  if (!reader.ok()) {
    *error = reader.status();
    return nullptr;
  }
  return reader->release();
}
