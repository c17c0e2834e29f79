# Helpers that give every room the same build settings.

set(IRANKER_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)

# iranker_library(NAME SOURCES ... DEPS ... [TORCH])
#   One static library per room, target "iranker_<NAME>", include root = the source tree.
#   TORCH: the room uses libtorch; it gets the shared precompiled torch header.
function(iranker_library name)
  cmake_parse_arguments(A "TORCH" "" "SOURCES;DEPS" ${ARGN})
  add_library(iranker_${name} STATIC ${A_SOURCES})
  target_include_directories(iranker_${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(iranker_${name} PUBLIC ${A_DEPS})
  target_compile_options(iranker_${name} PRIVATE ${IRANKER_WARNINGS})
  if(IRANKER_ASSERTS)
    target_compile_options(iranker_${name} PRIVATE -UNDEBUG)
  endif()
  if(A_TORCH)
    target_link_libraries(iranker_${name} PUBLIC ${TORCH_LIBRARIES})
    iranker_use_torch_pch(iranker_${name})
  endif()
  # The room graph (docs/ARCHITECTURE.md is checked against it): this room's iranker_* deps.
  set(rooms "")
  foreach(dep ${A_DEPS})
    if(dep MATCHES "^iranker_(.+)$")
      list(APPEND rooms ${CMAKE_MATCH_1})
    endif()
  endforeach()
  list(JOIN rooms " " rooms)
  set_property(GLOBAL APPEND PROPERTY IRANKER_ROOM_GRAPH "${name}:${rooms}")
endfunction()

# Writes ${PROJECT_BINARY_DIR}/rooms.txt: one line per room, "room: its direct room deps", in the
# order the rooms were added. tests/docs/check_architecture.py reads it.
function(iranker_write_room_graph)
  get_property(graph GLOBAL PROPERTY IRANKER_ROOM_GRAPH)
  set(text "")
  foreach(line ${graph})
    string(REPLACE ":" ": " line "${line}")
    string(APPEND text "${line}\n")
  endforeach()
  file(WRITE ${PROJECT_BINARY_DIR}/rooms.txt "${text}")
endfunction()

# One precompiled torch header shared by all torch-using targets (torch/torch.h costs ~10 s per
# translation unit to parse on this machine).
function(iranker_use_torch_pch target)
  if(NOT TARGET iranker_torch_pch)
    file(WRITE ${PROJECT_BINARY_DIR}/torch_pch.cc "// precompiled torch header anchor\n")
    add_library(iranker_torch_pch STATIC ${PROJECT_BINARY_DIR}/torch_pch.cc)
    target_link_libraries(iranker_torch_pch PUBLIC ${TORCH_LIBRARIES})
    target_compile_options(iranker_torch_pch PRIVATE ${IRANKER_WARNINGS})
    if(IRANKER_ASSERTS)
      target_compile_options(iranker_torch_pch PRIVATE -UNDEBUG)
    endif()
    target_precompile_headers(iranker_torch_pch PRIVATE <torch/torch.h>)
  endif()
  target_precompile_headers(${target} REUSE_FROM iranker_torch_pch)
endfunction()

# iranker_test(NAME SOURCES ... DEPS ... [LABELS ...] [TIMEOUT s])
#   A GoogleTest executable; each TEST becomes its own CTest test (discovered at build time).
function(iranker_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${name} PRIVATE ${IRANKER_WARNINGS} -UNDEBUG)
  target_compile_definitions(${name} PRIVATE IRANKER_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                             IRANKER_BINARY_DIR="${PROJECT_BINARY_DIR}")
  # PIC like the libraries, so a test can reuse their precompiled torch header.
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests
                                           POSITION_INDEPENDENT_CODE ON)
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  gtest_discover_tests(${name} PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "${A_LABELS}"
                       DISCOVERY_TIMEOUT 60)
endfunction()
