#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "af/cli/cli.hpp"

int main(int argc, char** argv) {
    try {
        return af::cli::main(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const std::exception& e) {
        std::cerr << "airflow-failover: fatal: " << e.what() << "\n";
        return 2;
    }
}
