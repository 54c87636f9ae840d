# A real Slurm cluster on 127.0.0.1 runs a sharded run as an array job (tests/cluster/slurm_test.sh).
# Skipped (exit 77) where Slurm is not installed; scripts/setup.sh --test installs it.
add_test(NAME cluster.slurm
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster/slurm_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(cluster.slurm PROPERTIES LABELS cluster SKIP_RETURN_CODE 77 TIMEOUT 600 RUN_SERIAL TRUE)
