# find_package(pronto): the imported target pronto::pronto (libpronto.so,
# its include folder). Installed by CMakeLists.txt beside prontoTargets.cmake
# and prontoConfigVersion.cmake; relocatable (paths are found from here).
include("${CMAKE_CURRENT_LIST_DIR}/prontoTargets.cmake")
