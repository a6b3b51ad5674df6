"""On the line: what tells the PLC, the MES and the reject gate about each part, and what lets a PLC
trigger an inspection. Qt-free; every protocol runs a real stack on its own thread.

    part.py            PartResult: the one record every output publishes per part
    outbox.py          a bounded, durable SQLite queue: results wait here while a broker is down
    plc.py             PlcTrigger: the PLC's trigger → busy → result → acknowledge handshake
    modbus_server.py   Modbus TCP server (pymodbus) with the register map in its docstring
    opcua_server.py    OPC UA server (asyncua): the station object, trigger / ack, security
    mqtt_out.py        MQTT publisher (paho-mqtt): results through the outbox, retained state
    part_ids.py        where a part's ID comes from: PLC, file name, counter or a barcode
    outputs.py         LineSettings (project setting / CLI flags) and LineIO, which runs them all
"""
